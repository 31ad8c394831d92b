using MentorKd.Modeling.Runtime;
using MentorKd.Modeling.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Modeling.Model;

/// <summary>
/// A decoder-only language model as generation, evaluation and training see it, whatever its family (GPT-2, Llama):
/// token ids in, logits out, with an optional key/value cache and left padding.
/// </summary>
public abstract class CausalLanguageModel : LanguageModel
{
    protected CausalLanguageModel(string name) : base(name) { }

    /// <summary>Transformer blocks, each with its own slot in a <see cref="KeyValueCache"/>.</summary>
    public abstract int LayerCount { get; }

    public override Tensor Logits(Tensor ids, Tensor? encoderIds = null, Tensor? encoderMask = null) => encoderIds is null
        ? forward(ids)
        : throw new ArgumentException($"{GetType().Name} is decoder-only: it takes no encoder input.", nameof(encoderIds));

    public override LanguageModelBatch Collate(IReadOnlyList<LanguageModelExample> examples, int padId, Device? device = null) =>
        LanguageModelBatch.Collate(examples, padId, ContextLength, device);

    /// <summary>Logits [B, T, V] for the new positions (or [B, 1, V] for just the last one).</summary>
    /// <param name="inputIds">[B, T] token ids of the new positions.</param>
    /// <param name="attentionMask">Optional [B, Tpast+T] with 1 for real tokens and 0 for (left) padding, covering
    /// cached positions too. Without it every row is a plain causal sequence continuing the cache.</param>
    /// <param name="cache">Optional key/value cache, extended by this call.</param>
    /// <param name="lastPositionOnly">Project only the final position to the vocabulary (decoding).</param>
    public Tensor forward(Tensor inputIds, Tensor? attentionMask = null, KeyValueCache? cache = null, bool lastPositionOnly = false)
    {
        using var scope = NewDisposeScope();
        var (positions, mask) = PositionsAndMask(inputIds, attentionMask, cache);
        var hidden = Trunk(inputIds, positions, mask, cache);
        if (lastPositionOnly) hidden = hidden[.., ^1..];
        return Head(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>Hidden states [B, T, C] after the final norm.</summary>
    /// <param name="positions">[B or 1, T] position of each new token (left padding not counted).</param>
    /// <param name="mask">Boolean [B, 1, T, Tpast+T] (true = may attend), or null for plain causal attention.</param>
    protected abstract Tensor Trunk(Tensor inputIds, Tensor positions, Tensor? mask, KeyValueCache? cache);

    /// <summary>Logits over the vocabulary for hidden states.</summary>
    protected abstract Tensor Head(Tensor hidden);

    /// <summary>Each new token's position ([1, T] or [B, T]) and the attention mask (null: plain causal), after checking
    /// the sequence fits the context.</summary>
    private (Tensor Positions, Tensor? Mask) PositionsAndMask(Tensor inputIds, Tensor? attentionMask, KeyValueCache? cache)
    {
        long time = inputIds.shape[1];
        long past = cache?.Length ?? 0;
        if (past + time > ContextLength)
            throw new ArgumentException($"Sequence of {past + time} tokens exceeds the model's context of {ContextLength}.", nameof(inputIds));
        if (attentionMask is null) return (HeldScalars.Range(past, past + time, inputIds.device).unsqueeze(0), null);

        // Left-padded rows: positions count real tokens only; padding keys are hidden from every query.
        var real = attentionMask.to(ScalarType.Int64);
        var positions = real.cumsum(1).Minus(1).AtLeast(0)[.., (int)past..];
        return (positions, AttentionMask(attentionMask.to(ScalarType.Bool), past, time));
    }

    /// <summary>[B, 1, T, Tpast+T]: causal, no padded keys, and always the query's own position (so a
    /// padding query never sees an empty row, whose softmax would be NaN and spread through the values).</summary>
    private static Tensor AttentionMask(Tensor keyIsReal, long past, long time)
    {
        long total = past + time;
        var device = keyIsReal.device;
        var queryPosition = HeldScalars.Range(past, total, device).unsqueeze(1);
        var keyPosition = HeldScalars.Range(0, total, device).unsqueeze(0);
        var causal = keyPosition <= queryPosition;
        var self = keyPosition == queryPosition;
        var allowed = causal.unsqueeze(0) & keyIsReal.unsqueeze(1);
        return (allowed | self.unsqueeze(0)).unsqueeze(1);
    }
}
