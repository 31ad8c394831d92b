using static TorchSharp.torch;

namespace MentorKd.Modeling.Training;

/// <summary>
/// Right-padded token ids [B, T] and labels [B, T] aligned with them: the token itself where it is scored,
/// <see cref="IgnoreIndex"/> on prompt and padding positions. Right padding needs no attention mask: causal
/// attention never lets a real position see the padding after it. For an encoder-decoder the prompts are
/// <see cref="EncoderIds"/> (with their padding mask) and the ids are the decoder's: its start token, then the target.
/// </summary>
public sealed class LanguageModelBatch : IDisposable
{
    public const long IgnoreIndex = -100;

    private LanguageModelBatch(Tensor inputIds, Tensor labels, Tensor afterPrompt, long scoredTokens, long tokens, Tensor? encoderIds = null, Tensor? encoderMask = null)
    {
        InputIds = inputIds;
        Labels = labels;
        AfterPrompt = afterPrompt;
        ScoredTokens = scoredTokens;
        Tokens = tokens;
        EncoderIds = encoderIds;
        EncoderMask = encoderMask;
    }

    public Tensor InputIds { get; }
    /// <summary>Encoder-decoder batches: the prompts [B, S], right-padded, and their mask (1 real, 0 padding).</summary>
    public Tensor? EncoderIds { get; }
    public Tensor? EncoderMask { get; }
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

    /// <summary>
    /// An encoder-decoder's batch: each prompt for the encoder, and for the decoder its start token followed by the
    /// target, labelled from the target's first token on (position t still predicts t + 1). Every decoder position is
    /// "after the prompt". Prompts and targets longer than <paramref name="maxLength"/> are cut (from the right).
    /// </summary>
    public static LanguageModelBatch CollateEncoderDecoder(IReadOnlyList<LanguageModelExample> examples, int padId, int decoderStartId, int maxLength,
        Device? device = null)
    {
        if (examples.Count == 0) throw new ArgumentException("A batch needs at least one example.", nameof(examples));
        if (examples.Any(e => e.Prompt.Length == 0)) throw new ArgumentException("An encoder-decoder needs a prompt in every example.", nameof(examples));
        int promptWidth = Math.Min(maxLength, examples.Max(e => e.Prompt.Length));
        int width = Math.Min(maxLength, examples.Max(e => e.Target.Length) + 1);
        var prompts = new long[examples.Count * promptWidth];
        var promptMask = new long[examples.Count * promptWidth];
        var ids = new long[examples.Count * width];
        var labels = new long[examples.Count * width];
        var afterPrompt = new bool[examples.Count * width];
        Array.Fill(prompts, padId);
        Array.Fill(ids, padId);
        Array.Fill(labels, IgnoreIndex);
        Array.Fill(afterPrompt, true);
        long scored = 0, tokens = 0;
        for (int row = 0; row < examples.Count; row++)
        {
            var example = examples[row];
            for (int i = 0; i < Math.Min(example.Prompt.Length, promptWidth); i++)
            {
                prompts[row * promptWidth + i] = example.Prompt[i];
                promptMask[row * promptWidth + i] = 1;
                tokens++;
            }
            ids[row * width] = decoderStartId;
            for (int i = 0; i < example.Target.Length && i + 1 < width; i++)
            {
                ids[row * width + i + 1] = labels[row * width + i + 1] = example.Target[i];
                scored++;
                tokens++;
            }
        }
        return new LanguageModelBatch(
            tensor(ids, [examples.Count, width], device: device),
            tensor(labels, [examples.Count, width], device: device),
            tensor(afterPrompt, [examples.Count, width], device: device),
            scored, tokens,
            tensor(prompts, [examples.Count, promptWidth], device: device),
            tensor(promptMask, [examples.Count, promptWidth], device: device));
    }

    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
        AfterPrompt.Dispose();
        EncoderIds?.Dispose();
        EncoderMask?.Dispose();
    }
}
