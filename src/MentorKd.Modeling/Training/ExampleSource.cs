namespace MentorKd.Modeling.Training;

/// <summary>
/// Draws training batches: random windows of a token stream and random prompt/completion pairs. The draw for
/// step s depends only on (seed, s), so a job resumed at step s sees exactly the batches it would have seen.
/// </summary>
public sealed class ExampleSource(int[] stream, IReadOnlyList<LanguageModelExample> pairs,
    int[] validationStream, IReadOnlyList<LanguageModelExample> validationPairs, int windowLength)
{
    public long TrainingTokens => stream.Length + pairs.Sum(p => (long)p.Length);
    public bool HasValidation => validationStream.Length > windowLength || validationPairs.Count > 0;

    public IReadOnlyList<LanguageModelExample> Batch(int batchSize, int seed, int step)
    {
        var random = new Random(HashCode.Combine(seed, step));
        var batch = new List<LanguageModelExample>(batchSize);
        bool hasStream = stream.Length > 1;
        for (int i = 0; i < batchSize; i++)
        {
            bool fromPairs = pairs.Count > 0 && (!hasStream || random.Next(2) == 0);
            batch.Add(fromPairs ? pairs[random.Next(pairs.Count)] : Window(stream, random));
        }
        return batch;
    }

    /// <summary>Fixed validation examples: consecutive windows and every held-out pair.</summary>
    public IEnumerable<IReadOnlyList<LanguageModelExample>> ValidationBatches(int batchSize)
    {
        var examples = new List<LanguageModelExample>(validationPairs);
        for (int at = 0; at + windowLength <= validationStream.Length; at += windowLength)
            examples.Add(new LanguageModelExample([], validationStream[at..(at + windowLength)]));
        return examples.Chunk(batchSize);
    }

    private LanguageModelExample Window(int[] tokens, Random random)
    {
        int length = Math.Min(windowLength, tokens.Length);
        int start = random.Next(tokens.Length - length + 1);
        return new LanguageModelExample([], tokens[start..(start + length)]);
    }
}
