using MentorKd.Modeling.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Modeling.Model;

/// <summary>
/// Any model family as generation sees it: decoder-only (<see cref="CausalLanguageModel"/>: GPT-2, Llama) or
/// encoder-decoder (<see cref="T5LanguageModel"/>), each scoring one vocabulary on one device.
/// </summary>
public abstract class LanguageModel : Module
{
    protected LanguageModel(string name) : base(name) { }

    public abstract int VocabSize { get; }
    /// <summary>The longest sequence the model takes: prompt and continuation (decoder-only), or prompt (encoder-decoder).</summary>
    public abstract int ContextLength { get; }
    public abstract Device Device { get; }

    /// <summary>The type matrix products run in: bfloat16 for mixed precision over fp32 weights (each
    /// <see cref="Projection"/> and the head casts for its product); null, the default, the weights' own.</summary>
    public ScalarType? ComputeType
    {
        get => _computeType;
        set
        {
            _computeType = value;
            foreach (var projection in modules().OfType<Projection>()) projection.ComputeType = value;
        }
    }
    private ScalarType? _computeType;

    /// <summary>Parameters counted once (a head tied to the token embedding is not counted twice).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>Whether the prompt goes to an encoder (and batches carry <see cref="LanguageModelBatch.EncoderIds"/>).</summary>
    public virtual bool IsEncoderDecoder => false;

    /// <summary>The token an encoder-decoder's decoder starts from.</summary>
    public virtual int DecoderStartTokenId => throw new NotSupportedException($"{GetType().Name} has no decoder start token.");

    /// <summary>Teacher-forced logits [B, T, V] of <paramref name="ids"/> (position t predicts t + 1): the whole sequence
    /// (decoder-only), or the decoder's ids attending to the encoded <paramref name="encoderIds"/> (encoder-decoder, which
    /// needs them; <paramref name="encoderMask"/>: 1 real, 0 padding).</summary>
    public abstract Tensor Logits(Tensor ids, Tensor? encoderIds = null, Tensor? encoderMask = null);

    /// <summary><see cref="Logits"/> of a batch.</summary>
    public Tensor TeacherForced(LanguageModelBatch batch) => Logits(batch.InputIds, batch.EncoderIds, batch.EncoderMask);

    /// <summary>Logits [n, V] predicting each of <paramref name="continuation"/>'s n tokens after <paramref name="prompt"/>, teacher forced.</summary>
    public Tensor ContinuationLogits(IReadOnlyList<int> prompt, IReadOnlyList<int> continuation)
    {
        using var scope = NewDisposeScope();
        var before = continuation.Take(continuation.Count - 1);
        Tensor Row(IEnumerable<int> ids) => tensor(ids.Select(i => (long)i).ToArray(), device: Device).unsqueeze(0);
        var logits = this is T5LanguageModel t5
            ? Logits(Row(before.Prepend(DecoderStartTokenId)), Row(t5.EncoderInput(prompt)))[0]
            : Logits(Row(prompt.Concat(before)))[0, (prompt.Count - 1)..];
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>The batch this model trains on: prompt and target as one sequence (decoder-only), or the prompt for the
    /// encoder and the target for the decoder (encoder-decoder).</summary>
    public abstract LanguageModelBatch Collate(IReadOnlyList<LanguageModelExample> examples, int padId, Device? device = null);
}
