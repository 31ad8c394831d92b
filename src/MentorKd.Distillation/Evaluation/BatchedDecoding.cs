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
    public static IReadOnlyList<string>[] Run(LanguageModel model, ITokenizer tokenizer, IReadOnlyList<Question> questions,
        GenerationOptions options, int batchSize, Action<int>? progress = null)
    {
        var prompts = questions.Select(q => tokenizer.Encode(CotFormat.Prompt(q))).ToArray();
        return Continue(model, tokenizer, prompts, options, batchSize, progress)
            .Select(samples => (IReadOnlyList<string>)samples.Select(s => tokenizer.Decode(s.Ids)).ToList())
            .ToArray();
    }

    /// <returns>For each tokenized prompt (in input order), its continuations.</returns>
    public static IReadOnlyList<Continuation>[] Continue(LanguageModel model, ITokenizer tokenizer, IReadOnlyList<int[]> prompts,
        GenerationOptions options, int batchSize, Action<int>? progress = null)
    {
        var order = Enumerable.Range(0, prompts.Count).OrderBy(i => prompts[i].Length).ToArray();
        var outputs = new IReadOnlyList<Continuation>[prompts.Count];
        var generator = new TokenGenerator(model, tokenizer.EndOfTextId, tokenizer.PadId);
        int done = 0, batchIndex = 0;
        foreach (var chunk in order.Chunk(Math.Max(1, batchSize / options.SamplesPerPrompt)))
        {
            // Each batch gets its own seed derived from the run's, so results do not depend on batch timing.
            var batchOptions = options.Seed is { } seed ? options with { Seed = seed * 7919 + batchIndex } : options;
            var generated = generator.Continue(chunk.Select(i => prompts[i]).ToList(), batchOptions);
            for (int j = 0; j < chunk.Length; j++) outputs[chunk[j]] = generated[j];
            done += chunk.Length;
            batchIndex++;
            progress?.Invoke(done);
        }
        return outputs;
    }
}
