using System.Diagnostics;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Tokenization;
using MentorKd.Modeling.Training;
using MentorKd.Protos.V1;

namespace MentorKd.Trainer.Jobs;

/// <summary>
/// Computes a job's sparse soft-label store through the mentor-server: every distinct training sequence once, the
/// mentor's top k at T for each position that predicts a target token, many sequences per call (the server runs them
/// through the mentor together).
/// </summary>
public static class SoftLabelStoreBuilder
{
    public sealed record Written(int Sequences, long Positions, long Bytes, TimeSpan Elapsed);

    /// <summary>
    /// Writes the store file at <paramref name="path"/> for the job's examples, with the mentor at
    /// <paramref name="mentorCheckpointKey"/> (loaded into the mentor-server if it holds another; empty: whichever it holds).
    /// The mentor-server is shared: if another run's work loads another mentor meanwhile, the labels would be mixed, so they
    /// are computed again (up to three times).
    /// </summary>
    public static async Task<Written> WriteAsync(MentorServerSoftLabels mentor, IReadOnlyList<LanguageModelExample> examples, ITokenizer tokenizer,
        double temperature, string mentorCheckpointKey, string mentorDtype, string path, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        for (int attempt = 1; ; attempt++)
        {
            var info = await mentor.MentorAsync(mentorCheckpointKey, mentorDtype);
            if (info.VocabSize != tokenizer.VocabSize)
                throw new InvalidDataException($"soft_labels.mentor_checkpoint_key: the mentor-server's mentor ({info.CheckpointKey}) scores {info.VocabSize} token ids " +
                    $"and the student {tokenizer.VocabSize}: soft labels need one vocabulary.");
            if (mentor.TopK > info.VocabSize)
                throw new InvalidDataException($"soft_labels.top_k: {mentor.TopK} is more than the mentor's {info.VocabSize} token ids.");
            var sequences = await ComputeAsync(mentor, examples, mentor.TopK, temperature, cancellationToken);
            var after = await mentor.MentorAsync("", mentorDtype);
            if (after.CheckpointKey != info.CheckpointKey)
            {
                if (attempt == 3 || mentorCheckpointKey.Length == 0)
                    throw new InvalidOperationException($"the mentor-server changed mentors ({info.CheckpointKey} → {after.CheckpointKey}) while the soft-label store was written.");
                continue;
            }
            long bytes = SparseSoftLabelStore.Write(path, new SparseSoftLabelStoreInfo(tokenizer.VocabSize, TokenizerVocabulary.Fingerprint(tokenizer),
                temperature, mentor.TopK, info.CheckpointKey), sequences);
            return new Written(sequences.Count, sequences.Sum(s => (long)s.Positions), bytes, clock.Elapsed);
        }
    }

    /// <summary>A call's reply stays well under the 4 MB a gRPC client takes by default: about 12 bytes per top-k entry.</summary>
    private const long ReplyBudgetBytes = 2L << 20;

    public static async Task<IReadOnlyList<StoredSequence>> ComputeAsync(MentorServerSoftLabels mentor, IEnumerable<LanguageModelExample> examples, int topK,
        double temperature, CancellationToken cancellationToken)
    {
        var sequences = examples.Select(e => (Tokens: e.Prompt.Concat(e.Target).ToArray(), PromptLength: e.Prompt.Length))
            .Where(s => s.PromptLength >= 1 && s.Tokens.Length > s.PromptLength)
            .DistinctBy(s => $"{s.PromptLength}|{string.Join(',', s.Tokens)}")
            .ToList();
        var stored = new List<StoredSequence>(sequences.Count);
        foreach (var chunk in Calls(sequences, topK))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var request = new SoftLabelsRequest { TopK = topK, Temperature = temperature };
            // The last token predicts nothing the student learns; position prompt − 1 predicts the target's first token.
            request.Sequences.AddRange(chunk.Select(s => new TokenSequence { TokenIds = { s.Tokens[..^1] }, ScoreFrom = s.PromptLength - 1 }));
            var response = await mentor.CallAsync(request);
            for (int i = 0; i < chunk.Length; i++)
            {
                var positions = response.Sequences[i].Positions;
                int expected = chunk[i].Tokens.Length - chunk[i].PromptLength;
                if (positions.Count != expected || positions.Any(p => p.TokenIds.Count != topK || p.LogProbs.Count != topK))
                    throw new InvalidDataException($"the mentor-server answered {positions.Count} positions for a sequence with {expected} target tokens (top {topK} each).");
                stored.Add(new StoredSequence(chunk[i].Tokens, chunk[i].PromptLength,
                    [.. positions.SelectMany(p => p.TokenIds)], [.. positions.SelectMany(p => p.LogProbs)], [.. positions.Select(p => p.RemainingMass)]));
            }
        }
        return stored;
    }

    /// <summary>Sequences in calls of as many as fit the reply budget (at least one each).</summary>
    private static IEnumerable<(int[] Tokens, int PromptLength)[]> Calls(List<(int[] Tokens, int PromptLength)> sequences, int topK)
    {
        var call = new List<(int[], int)>();
        long bytes = 0;
        foreach (var sequence in sequences)
        {
            long reply = (sequence.Tokens.Length - sequence.PromptLength) * (12L * topK + 8);
            if (call.Count > 0 && bytes + reply > ReplyBudgetBytes)
            {
                yield return [.. call];
                (call, bytes) = ([], 0);
            }
            call.Add(sequence);
            bytes += reply;
        }
        if (call.Count > 0) yield return [.. call];
    }
}
