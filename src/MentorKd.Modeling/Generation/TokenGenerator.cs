using MentorKd.Modeling.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Generation;

/// <summary>
/// Continues a batch of token prompts of different lengths, with any model family (<see cref="DecodingSession"/> feeds
/// it). A row stops at end-of-text, the whole batch at the token budget or when every row has stopped.
/// </summary>
public sealed class TokenGenerator(LanguageModel model, int endOfTextId, int padId)
{
    /// <returns>For each prompt, <see cref="GenerationOptions.SamplesPerPrompt"/> continuations, without the end-of-text token.</returns>
    public IReadOnlyList<int[]>[] Generate(IReadOnlyList<int[]> prompts, GenerationOptions options) =>
        Continue(prompts, options).Select(samples => (IReadOnlyList<int[]>)samples.Select(s => s.Ids).ToList()).ToArray();

    /// <returns>For each prompt, <see cref="GenerationOptions.SamplesPerPrompt"/> continuations, each saying whether it
    /// ended at end-of-text (otherwise it ran out of tokens).</returns>
    public IReadOnlyList<Continuation>[] Continue(IReadOnlyList<int[]> prompts, GenerationOptions options)
    {
        options.Validate();
        if (prompts.Count == 0) return [];
        var rows = prompts.SelectMany(p => Enumerable.Repeat(p, options.SamplesPerPrompt)).ToList();
        if (rows.Any(r => r.Length == 0)) throw new ArgumentException("A prompt is empty: start it with at least one token (e.g. end-of-text).", nameof(prompts));

        var finished = new bool[rows.Count];
        var device = model.Device;
        using var generator = options.Temperature > 0 ? new Generator((ulong)(options.Seed ?? Random.Shared.NextInt64()), device) : null;
        bool wasTraining = model.training;
        model.eval();
        using var guard = inference_mode();
        try
        {
            using var session = DecodingSession.Start(model, rows, padId, options.UseCache);
            int budget = session.Budget(options.MaxNewTokens);
            var generated = rows.Select(_ => new List<int>(budget)).ToArray();
            for (int step = 0; step < budget; step++)
            {
                using var scope = NewDisposeScope();
                var next = NextTokenSampler.Choose(session.NextLogits(), options, generator);
                var chosen = next.data<long>().ToArray();
                for (int row = 0; row < rows.Count; row++)
                {
                    if (finished[row]) { chosen[row] = padId; continue; }
                    if (chosen[row] == endOfTextId) finished[row] = true;
                    else generated[row].Add((int)chosen[row]);
                }
                if (finished.All(f => f)) break;
                session.Append(tensor(chosen, device: device).unsqueeze(1));
            }
            return Enumerable.Range(0, prompts.Count)
                .Select(p => (IReadOnlyList<Continuation>)Enumerable.Range(0, options.SamplesPerPrompt)
                    .Select(s => p * options.SamplesPerPrompt + s).Select(row => new Continuation(generated[row].ToArray(), finished[row])).ToList())
                .ToArray();
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }
}

/// <summary>New tokens after a prompt (without the end-of-text token), and whether the model ended them itself.</summary>
public sealed record Continuation(int[] Ids, bool EndedAtEndOfText);
