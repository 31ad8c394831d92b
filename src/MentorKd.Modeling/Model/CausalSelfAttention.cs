using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Modeling.Model;

/// <summary>
/// Multi-head causal self-attention with one fused q/k/v projection (GPT-2's <c>c_attn</c>) and scaled
/// dot-product attention. Weights are stored as <c>Linear</c> (out, in); the checkpoint mapping transposes
/// them to and from Hugging Face's Conv1D (in, out) layout.
/// </summary>
public sealed class CausalSelfAttention : Module
{
    private readonly Projection c_attn;
    private readonly Projection c_proj;
    private readonly Dropout resid_dropout;
    private readonly int _heads;
    private readonly int _embedding;
    private readonly double _attentionDropout;

    public CausalSelfAttention(GptConfig config) : base(nameof(CausalSelfAttention))
    {
        _heads = config.HeadCount;
        _embedding = config.EmbeddingSize;
        _attentionDropout = config.AttentionDropout;
        c_attn = new Projection(config.EmbeddingSize, 3 * config.EmbeddingSize);
        c_proj = new Projection(config.EmbeddingSize, config.EmbeddingSize);
        resid_dropout = Dropout(config.ResidualDropout);
        RegisterComponents();
    }

    /// <param name="x">[B, T, C] hidden states of the new positions.</param>
    /// <param name="mask">Boolean [B, 1, T, Tpast+T] (true = may attend), or null for plain causal attention.</param>
    /// <param name="cache">Keys/values of earlier positions; this call appends its own.</param>
    public Tensor forward(Tensor x, Tensor? mask, KeyValueCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        var (batch, time) = (x.shape[0], x.shape[1]);

        // [B, T, 3C] -> three [B, H, T, D]
        var qkv = c_attn.forward(x).view(batch, time, 3, _heads, _embedding / _heads).permute(2, 0, 3, 1, 4);
        Tensor q = qkv[0], k = qkv[1], v = qkv[2];
        long pastLength = cache?.LengthOf(layer) ?? 0;
        if (cache is not null) (k, v) = cache.Append(layer, Attention.Wide(k), Attention.Wide(v));

        // Without a mask: a fresh sequence is causal; a single new token may see everything cached.
        bool causal = mask is null && time > 1;
        if (mask is null && time > 1 && pastLength > 0)
            throw new InvalidOperationException("Several new positions on top of a cache need an explicit mask.");

        var y = Attention.ScaledDotProduct(q, k, v, mask, training ? _attentionDropout : 0.0, causal);
        y = y.transpose(1, 2).contiguous().view(batch, time, _embedding);
        return resid_dropout.forward(c_proj.forward(y)).MoveToOuterDisposeScope();
    }
}
