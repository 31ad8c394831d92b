using TorchSharp;
using TorchSharp.Modules;
using MentorKd.Modeling.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Modeling.Model;

/// <summary>
/// A Llama-family decoder (Hugging Face's <c>LlamaForCausalLM</c>, and the Qwen2, SmolLM2, TinyLlama and Mistral models
/// built the same way): token embedding, blocks of RMSNorm → grouped-query attention with rotary positions → RMSNorm →
/// SwiGLU MLP, a final RMSNorm and an output head that is the token embedding or its own matrix. Field names are the
/// checkpoint's (<c>model.layers.0.self_attn.q_proj.weight</c>, <c>lm_head.weight</c>), so the state dict is the
/// checkpoint's tensor names as they are.
/// </summary>
public sealed class LlamaLanguageModel : CausalLanguageModel
{
    private readonly LlamaDecoder model;
    private readonly Projection? lm_head;

    public LlamaLanguageModel(LlamaConfig config, Generator? initialization = null) : base(nameof(LlamaLanguageModel))
    {
        config.Validate();
        Config = config;
        model = new LlamaDecoder(config);
        lm_head = config.TieWordEmbeddings ? null : new Projection(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
        InitializeWeights(initialization);
    }

    public LlamaConfig Config { get; }

    public override int VocabSize => Config.VocabSize;
    public override int ContextLength => Config.ContextLength;
    public override int LayerCount => Config.LayerCount;
    public override Device Device => model.TokenEmbedding.device;

    protected override Tensor Trunk(Tensor inputIds, Tensor positions, Tensor? mask, KeyValueCache? cache) => model.forward(inputIds, positions, mask, cache);

    protected override Tensor Head(Tensor hidden) => lm_head is null ? Projection.Apply(hidden, model.TokenEmbedding, null, ComputeType) : lm_head.forward(hidden);

    private void InitializeWeights(Generator? generator)
    {
        // As transformers initialises Llama: N(0, 0.02) for projections and embeddings, zero biases, unit norms.
        using var noGrad = no_grad();
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.EndsWith(".bias")) init.zeros_(parameter);
            else if (name.EndsWith("norm.weight")) init.ones_(parameter);
            else parameter.normal_(0, 0.02, generator);
        }
    }
}

/// <summary>The trunk (Hugging Face's <c>LlamaModel</c>, under the name <c>model</c>).</summary>
internal sealed class LlamaDecoder : Module
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RmsNorm norm;
    private readonly RotaryEmbedding _rotary;

    public LlamaDecoder(LlamaConfig config) : base(nameof(LlamaDecoder))
    {
        embed_tokens = Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<LlamaDecoderLayer>(Enumerable.Range(0, config.LayerCount).Select(_ => new LlamaDecoderLayer(config)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEpsilon);
        _rotary = new RotaryEmbedding(RopeScaling.InverseFrequencies(config.HeadSize, config.RopeTheta, config.RopeScaling));
        RegisterComponents();
    }

    public Tensor TokenEmbedding => embed_tokens.weight!;

    public Tensor forward(Tensor inputIds, Tensor positions, Tensor? mask, KeyValueCache? cache)
    {
        using var scope = NewDisposeScope();
        var x = embed_tokens.forward(inputIds);
        // One rotation table for every layer: [B or 1, 1, T, D] cosines and sines of position × frequency.
        var (cos, sin) = _rotary.At(positions, x.dtype);
        for (int layer = 0; layer < layers.Count; layer++)
            x = layers[layer].forward(x, cos, sin, mask, cache, layer);
        return norm.forward(x).MoveToOuterDisposeScope();
    }
}

/// <summary>x + attention(RMSNorm(x)), then x + MLP(RMSNorm(x)).</summary>
internal sealed class LlamaDecoderLayer : Module
{
    private readonly RmsNorm input_layernorm;
    private readonly LlamaAttention self_attn;
    private readonly RmsNorm post_attention_layernorm;
    private readonly LlamaMlp mlp;

    public LlamaDecoderLayer(LlamaConfig config) : base(nameof(LlamaDecoderLayer))
    {
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEpsilon);
        self_attn = new LlamaAttention(config);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEpsilon);
        mlp = new LlamaMlp(config);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KeyValueCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        x = x.Plus(self_attn.forward(input_layernorm.forward(x), cos, sin, mask, cache, layer));
        x = x.Plus(mlp.forward(post_attention_layernorm.forward(x)));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Grouped-query attention: HeadCount query heads share KeyValueHeads key/value heads (the cache holds only those), with
/// rotary position embeddings applied to queries and keys.
/// </summary>
internal sealed class LlamaAttention : Module
{
    private readonly Projection q_proj, k_proj, v_proj, o_proj;
    private readonly int _heads, _keyValueHeads, _headSize;

    public LlamaAttention(LlamaConfig config) : base(nameof(LlamaAttention))
    {
        (_heads, _keyValueHeads, _headSize) = (config.HeadCount, config.KeyValueHeads, config.HeadSize);
        q_proj = new Projection(config.HiddenSize, _heads * _headSize, hasBias: config.QueryKeyValueBias);
        k_proj = new Projection(config.HiddenSize, _keyValueHeads * _headSize, hasBias: config.QueryKeyValueBias);
        v_proj = new Projection(config.HiddenSize, _keyValueHeads * _headSize, hasBias: config.QueryKeyValueBias);
        o_proj = new Projection(_heads * _headSize, config.HiddenSize, hasBias: config.OutputProjectionBias);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KeyValueCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        var (batch, time) = (x.shape[0], x.shape[1]);
        var q = q_proj.forward(x).view(batch, time, _heads, _headSize).transpose(1, 2);
        var k = k_proj.forward(x).view(batch, time, _keyValueHeads, _headSize).transpose(1, 2);
        var v = v_proj.forward(x).view(batch, time, _keyValueHeads, _headSize).transpose(1, 2);
        (q, k) = (RotaryEmbedding.Rotate(q, cos, sin), RotaryEmbedding.Rotate(k, cos, sin));
        long pastLength = cache?.LengthOf(layer) ?? 0;
        if (cache is not null) (k, v) = cache.Append(layer, Attention.Wide(k), Attention.Wide(v));
        if (mask is null && time > 1 && pastLength > 0)
            throw new InvalidOperationException("Several new positions on top of a cache need an explicit mask.");

        // Each key/value head serves HeadCount / KeyValueHeads consecutive query heads.
        (k, v) = (Shared(k), Shared(v));
        var y = Attention.ScaledDotProduct(q, k, v, mask, 0.0, mask is null && time > 1);
        y = y.transpose(1, 2).reshape(batch, time, _heads * _headSize);
        return o_proj.forward(y).MoveToOuterDisposeScope();
    }

    private Tensor Shared(Tensor keysOrValues)
    {
        int repeats = _heads / _keyValueHeads;
        if (repeats == 1) return keysOrValues;
        var (batch, length) = (keysOrValues.shape[0], keysOrValues.shape[2]);
        return keysOrValues.unsqueeze(2).expand(batch, _keyValueHeads, repeats, length, _headSize).reshape(batch, _heads, length, _headSize);
    }
}

/// <summary>SwiGLU: down(silu(gate(x)) · up(x)).</summary>
internal sealed class LlamaMlp : Module
{
    private readonly Projection gate_proj, up_proj, down_proj;

    public LlamaMlp(LlamaConfig config) : base(nameof(LlamaMlp))
    {
        gate_proj = new Projection(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias);
        up_proj = new Projection(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias);
        down_proj = new Projection(config.IntermediateSize, config.HiddenSize, hasBias: config.MlpBias);
        RegisterComponents();
    }

    public Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return down_proj.forward(functional.silu(gate_proj.forward(x)) * up_proj.forward(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>Root-mean-square norm with a learned scale, computed in fp32 whatever the weights' precision.</summary>
internal sealed class RmsNorm : Module
{
    private readonly Parameter weight;
    private readonly double _epsilon;

    public RmsNorm(int size, double epsilon) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(size));
        _epsilon = epsilon;
        RegisterComponents();
    }

    public Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var wide = x.to(ScalarType.Float32);
        var normalized = wide * (wide * wide).mean([-1L], keepdim: true).Plus(_epsilon).rsqrt();
        return (weight * normalized.to(x.dtype)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Rotary position embeddings in Hugging Face's layout: the head's first and second halves form the rotated pairs
/// (x_i, x_{i+D/2}), turned by position · inverse frequency i.
/// </summary>
public sealed class RotaryEmbedding(double[] inverseFrequencies)
{
    private readonly float[] _inverseFrequencies = inverseFrequencies.Select(f => (float)f).ToArray();

    /// <summary>Cosines and sines [B, 1, T, D] for positions [B or 1, T], in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) At(Tensor positions, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var frequencies = tensor(_inverseFrequencies, device: positions.device);
        var angles = positions.to(ScalarType.Float32).unsqueeze(-1) * frequencies; // [B, T, D/2]
        var both = cat([angles, angles], -1).unsqueeze(1);
        return (both.cos().to(dtype).MoveToOuterDisposeScope(), both.sin().to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>x · cos + rotate_half(x) · sin, with rotate_half(x) = [-x₂, x₁].</summary>
    public static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var (first, second) = (x[.., .., .., ..(int)half], x[.., .., .., (int)half..]);
        var rotated = cat([second.neg(), first], -1);
        return (x * cos).Plus(rotated * sin).MoveToOuterDisposeScope();
    }
}
