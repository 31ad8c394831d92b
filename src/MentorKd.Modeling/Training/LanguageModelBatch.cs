using static TorchSharp.torch;

namespace MentorKd.Modeling.Training;

/// <summary>
/// Right-padded token ids [B, T] and labels [B, T] aligned with them: the token itself where it is scored,
/// <see cref="IgnoreIndex"/> on prompt and padding positions. Right padding needs no attention mask: causal
/// attention never lets a real position see the padding after it.
/// </summary>
public sealed class LanguageModelBatch : IDisposable
{
    public const long IgnoreIndex = -100;

    private LanguageModelBatch(Tensor inputIds, Tensor labels, Tensor afterPrompt, long scoredTokens, long tokens)
    {
        InputIds = inputIds;
        Labels = labels;
        AfterPrompt = afterPrompt;
        ScoredTokens = scoredTokens;
        Tokens = tokens;
    }

    public Tensor InputIds { get; }
    public Tensor Labels { get; }
    /// <summary>[B, T] booleans: true from each row's first target token to the end, padding included
    /// (the positions an encoder-decoder's decoder would cover).</summary>
    public Tensor AfterPrompt { get; }
    /// <summary>Target tokens the loss is computed on.</summary>
    public long ScoredTokens { get; }
    /// <summary>All real (non-pad) tokens, for throughput figures.</summary>
    public long Tokens { get; }

    /// <param name="maxLength">Sequences longer than this are cut (from the right).</param>
    public static LanguageModelBatch Collate(IReadOnlyList<LanguageModelExample> examples, int padId, int maxLength, Device? device = null)
    {
        if (examples.Count == 0) throw new ArgumentException("A batch needs at least one example.", nameof(examples));
        int width = Math.Min(maxLength, examples.Max(e => e.Length));
        var ids = new long[examples.Count * width];
        var labels = new long[examples.Count * width];
        var afterPrompt = new bool[examples.Count * width];
        Array.Fill(ids, padId);
        Array.Fill(labels, IgnoreIndex);
        long scored = 0, tokens = 0;
        for (int row = 0; row < examples.Count; row++)
        {
            var example = examples[row];
            int at = row * width;
            for (int i = Math.Min(example.Prompt.Length, width); i < width; i++) afterPrompt[at + i] = true;
            for (int i = 0; i < example.Length && i < width; i++)
            {
                bool isTarget = i >= example.Prompt.Length;
                int token = isTarget ? example.Target[i - example.Prompt.Length] : example.Prompt[i];
                ids[at + i] = token;
                tokens++;
                // The first token of a sequence has nothing before it to predict it from.
                if (isTarget && i > 0) { labels[at + i] = token; scored++; }
            }
        }
        return new LanguageModelBatch(
            tensor(ids, [examples.Count, width], device: device),
            tensor(labels, [examples.Count, width], device: device),
            tensor(afterPrompt, [examples.Count, width], device: device),
            scored, tokens);
    }

    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
        AfterPrompt.Dispose();
    }
}
