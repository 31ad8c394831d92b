using MentorKd.Modeling.Model;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Generation;

/// <summary>
/// One batch of prompts being continued, fed to the model as its family needs: each step gives every row's next-token
/// logits, then takes the column of tokens chosen for them. Owns the tensors it keeps between steps.
/// </summary>
internal abstract class DecodingSession : IDisposable
{
    public static DecodingSession Start(LanguageModel model, IReadOnlyList<int[]> rows, int padId, bool useCache) => model switch
    {
        CausalLanguageModel causal => new CausalDecoding(causal, rows, padId, useCache),
        T5LanguageModel t5 => new EncoderDecoderDecoding(t5, rows, padId, useCache),
        _ => throw new NotSupportedException($"{model.GetType().Name} cannot generate."),
    };

    /// <summary>How many tokens each row may gain: <paramref name="requested"/>, or fewer where the context ends first.</summary>
    public abstract int Budget(int requested);

    /// <summary>[B, V] logits of each row's next token (in the caller's dispose scope).</summary>
    public abstract Tensor NextLogits();

    /// <summary>Feeds the chosen tokens [B, 1] (Int64) back.</summary>
    public abstract void Append(Tensor column);

    public abstract void Dispose();

    /// <summary>[rows, width] ids with each row's tokens at its start (<paramref name="left"/>: at its end) and
    /// <paramref name="padId"/> around them, and the matching 1/0 mask; both outside any dispose scope.</summary>
    protected static (Tensor Ids, Tensor Mask) Padded(IReadOnlyList<int[]> rows, int padId, bool left, Device device)
    {
        int width = rows.Max(r => r.Length);
        var ids = new long[rows.Count * width];
        var real = new long[rows.Count * width];
        for (int r = 0; r < rows.Count; r++)
        {
            int offset = left ? width - rows[r].Length : 0;
            for (int c = 0; c < width; c++)
            {
                bool isToken = c >= offset && c < offset + rows[r].Length;
                ids[r * width + c] = isToken ? rows[r][c - offset] : padId;
                real[r * width + c] = isToken ? 1 : 0;
            }
        }
        return (tensor(ids, [rows.Count, width], device: device).DetachFromDisposeScope(), tensor(real, [rows.Count, width], device: device).DetachFromDisposeScope());
    }

    /// <summary>Replaces an owned tensor with the next (detached from the caller's scope), freeing the old one.</summary>
    protected static void Replace(ref Tensor slot, Tensor next)
    {
        var kept = next.DetachFromDisposeScope();
        if (!ReferenceEquals(slot, kept)) slot.Dispose();
        slot = kept;
    }
}
