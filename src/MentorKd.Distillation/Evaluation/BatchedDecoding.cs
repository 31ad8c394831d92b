using MentorKd.Distillation.Data;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;

namespace MentorKd.Distillation.Evaluation;

/// <summary>Decodes answers for many questions, batching prompts of similar length together.</summary>
public static class BatchedDecoding
{
    /// <returns>For each question (in input order), the decoded samples.</returns>
    public static IReadOnlyList<string>[] Run(GptLanguageModel model, ITokenizer tokenizer, IReadOnlyList<Question> questions,
        GenerationOptions options, int batchSize, Action<int>? progress = null)
    {
        var prompts = questions.Select(q => tokenizer.Encode(CotFormat.Prompt(q))).ToArray();
        var order = Enumerable.Range(0, questions.Count).OrderBy(i => prompts[i].Length).ToArray();
        var outputs = new IReadOnlyList<string>[questions.Count];
        var generator = new TokenGenerator(model, tokenizer.EndOfTextId, tokenizer.PadId);
        int done = 0, batchIndex = 0;
        foreach (var chunk in order.Chunk(Math.Max(1, batchSize / options.SamplesPerPrompt)))
        {
            // Each batch gets its own seed derived from the run's, so results do not depend on batch timing.
            var batchOptions = options.Seed is { } seed ? options with { Seed = seed * 7919 + batchIndex } : options;
            var generated = generator.Generate(chunk.Select(i => prompts[i]).ToList(), batchOptions);
            for (int j = 0; j < chunk.Length; j++)
                outputs[chunk[j]] = generated[j].Select(ids => tokenizer.Decode(ids)).ToList();
            done += chunk.Length;
            batchIndex++;
            progress?.Invoke(done);
        }
        return outputs;
    }
}
