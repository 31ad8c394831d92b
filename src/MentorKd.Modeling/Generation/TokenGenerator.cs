using MentorKd.Modeling.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Generation;

/// <summary>
/// Continues a batch of token prompts of different lengths. Prompts are left-padded so every row's next token
/// sits in the last column; a row stops at end-of-text, the whole batch at the token budget or when every row
/// has stopped. With the KV cache each step feeds one token per row; without it the full sequence is re-run
/// (kept as the reference the cache must match).
/// </summary>
public sealed class TokenGenerator(CausalLanguageModel model, int endOfTextId, int padId)
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
        int longest = rows.Max(r => r.Length);
        int context = model.ContextLength;
        if (longest >= context) throw new ArgumentException($"A prompt of {longest} tokens leaves no room in the model's {context}-token context.", nameof(prompts));
        int budget = Math.Min(options.MaxNewTokens, context - longest);

        var generated = rows.Select(_ => new List<int>(budget)).ToArray();
        var finished = new bool[rows.Count];
        bool padded = rows.Any(r => r.Length != longest);
        var device = model.Device;
        using var generator = options.Temperature > 0 ? new Generator((ulong)(options.Seed ?? Random.Shared.NextInt64()), device) : null;
        bool wasTraining = model.training;
        model.eval();

        using var guard = inference_mode();
        using var cache = options.UseCache ? new KeyValueCache(model.LayerCount) : null;
        using var sequence = LeftPadded(rows, longest, device, out var attention);
        Tensor tokens = sequence.alias(), mask = attention;
        Tensor stepInput = tokens;
        try
        {
            for (int step = 0; step < budget; step++)
            {
                using var scope = NewDisposeScope();
                var logits = model.forward(stepInput, padded ? mask : null, cache, lastPositionOnly: true);
                var next = NextTokenSampler.Choose(logits[.., -1], options, generator);
                var chosen = next.data<long>().ToArray();
                for (int row = 0; row < rows.Count; row++)
                {
                    if (finished[row]) { chosen[row] = padId; continue; }
                    if (chosen[row] == endOfTextId) finished[row] = true;
                    else generated[row].Add((int)chosen[row]);
                }
                if (finished.All(f => f)) break;

                var column = tensor(chosen, device: device).unsqueeze(1);
                var nextTokens = cat([tokens, column], 1).DetachFromDisposeScope();
                var nextMask = cat([mask, ones_like(column)], 1).DetachFromDisposeScope();
                if (!ReferenceEquals(stepInput, tokens)) stepInput.Dispose();
                tokens.Dispose();
                mask.Dispose();
                (tokens, mask) = (nextTokens, nextMask);
                stepInput = cache is null ? tokens : column.DetachFromDisposeScope();
            }
        }
        finally
        {
            if (!ReferenceEquals(stepInput, tokens)) stepInput.Dispose();
            tokens.Dispose();
            mask.Dispose();
            if (wasTraining) model.train();
        }

        return Enumerable.Range(0, prompts.Count)
            .Select(p => (IReadOnlyList<Continuation>)Enumerable.Range(0, options.SamplesPerPrompt)
                .Select(s => p * options.SamplesPerPrompt + s).Select(row => new Continuation(generated[row].ToArray(), finished[row])).ToList())
            .ToArray();
    }

    private Tensor LeftPadded(List<int[]> rows, int width, Device device, out Tensor attention)
    {
        var ids = new long[rows.Count * width];
        var real = new long[rows.Count * width];
        for (int r = 0; r < rows.Count; r++)
        {
            int offset = width - rows[r].Length;
            for (int c = 0; c < width; c++)
            {
                ids[r * width + c] = c < offset ? padId : rows[r][c - offset];
                real[r * width + c] = c < offset ? 0 : 1;
            }
        }
        attention = tensor(real, [rows.Count, width], device: device);
        return tensor(ids, [rows.Count, width], device: device);
    }
}

/// <summary>New tokens after a prompt (without the end-of-text token), and whether the model ended them itself.</summary>
public sealed record Continuation(int[] Ids, bool EndedAtEndOfText);
