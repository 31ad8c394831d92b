using TorchSharp;
using TorchSharp.Modules;
using MentorKd.Modeling.Runtime;
using MentorKd.Modeling.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Modeling.Model;

/// <summary>
/// T5 (Hugging Face's <c>T5ForConditionalGeneration</c>: T5 v1.0, v1.1, FlanT5): an encoder reads the prompt, a decoder
/// writes the continuation attending to it. Both are stacks of pre-norm blocks (RMS "layer norm" with no bias) whose
/// self-attention adds a learned bias per relative-position bucket, computed by each stack's first block and shared by
/// the rest; attention scores are not scaled by 1/√d. The decoder's blocks also attend to the encoder's output. The
/// head is the shared token embedding applied to the decoder's output scaled by d_model^-0.5 (v1.0), or its own matrix
/// (v1.1). Field names are the checkpoint's (<c>encoder.block.0.layer.0.SelfAttention.q.weight</c>, <c>shared.weight</c>).
/// </summary>
public sealed class T5LanguageModel : LanguageModel
{
    private readonly Embedding shared;
    private readonly T5Stack encoder;
    private readonly T5Stack decoder;
    private readonly Projection? lm_head;

    public T5LanguageModel(T5Config config, Generator? initialization = null) : base(nameof(T5LanguageModel))
    {
        config.Validate();
        Config = config;
        shared = Embedding(config.VocabSize, config.ModelSize);
        encoder = new T5Stack(config, isDecoder: false);
        decoder = new T5Stack(config, isDecoder: true);
        lm_head = config.TieWordEmbeddings ? null : new Projection(config.ModelSize, config.VocabSize, hasBias: false);
        RegisterComponents();
        InitializeWeights(initialization);
    }

    public T5Config Config { get; }

    public override int VocabSize => Config.VocabSize;
    /// <summary>Relative positions bound no length: the longest prompt taken is the one pre-training used, where known.</summary>
    public override int ContextLength => Config.Positions ?? 512;
    public override Device Device => shared.weight!.device;
    public int DecoderLayers => Config.DecoderLayers;
    public override bool IsEncoderDecoder => true;

    public override int DecoderStartTokenId => Config.DecoderStartTokenId;

    public override Tensor Logits(Tensor ids, Tensor? encoderIds = null, Tensor? encoderMask = null) =>
        forward(encoderIds ?? throw new ArgumentException("an encoder-decoder needs the prompt's ids for its encoder.", nameof(encoderIds)), encoderMask, ids);

    public override LanguageModelBatch Collate(IReadOnlyList<LanguageModelExample> examples, int padId, Device? device = null) =>
        LanguageModelBatch.CollateEncoderDecoder(examples.Select(e => e with { Prompt = EncoderInput(e.Prompt) }).ToList(), padId, Config.DecoderStartTokenId, ContextLength, device);

    /// <summary>A prompt as the encoder reads it: ended by end-of-sequence, as T5's tokenizer ends every sequence it encodes
    /// (the models were trained on such inputs). Every path to the encoder goes through here.</summary>
    public int[] EncoderInput(IReadOnlyList<int> prompt) => [.. prompt, Config.EosTokenId];

    /// <summary>Encoder output [B, S, d] for prompts [B, S] (<paramref name="attentionMask"/>: 1 for real tokens, 0 for padding).</summary>
    public Tensor Encode(Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        long length = inputIds.shape[1];
        var bias = encoder.PositionBias(0, length, length, inputIds.device);
        if (attentionMask is not null) bias = bias.Plus(PaddingBias(attentionMask, bias.dtype));
        return encoder.forward(shared.forward(inputIds), bias, null, null, null).MoveToOuterDisposeScope();
    }

    /// <summary>Logits [B, T, V] of the decoder positions <paramref name="decoderIds"/> (which start with the decoder start
    /// token), attending to <paramref name="encoderOutput"/>. With a cache, the ids continue what it holds.</summary>
    public Tensor Decode(Tensor decoderIds, Tensor encoderOutput, Tensor? encoderMask = null, EncoderDecoderCache? cache = null, bool lastPositionOnly = false)
    {
        using var scope = NewDisposeScope();
        long past = cache?.Self.Length ?? 0, time = decoderIds.shape[1], total = past + time;
        var device = decoderIds.device;
        // Causal: a query sees keys up to its own position.
        var future = HeldScalars.Range(0, total, device).unsqueeze(0) > HeldScalars.Range(past, total, device).unsqueeze(1);
        var selfBias = decoder.PositionBias(past, time, total, device).FilledWhere(future, double.NegativeInfinity);
        var crossBias = encoderMask is null ? null : PaddingBias(encoderMask, encoderOutput.dtype);
        var hidden = decoder.forward(shared.forward(decoderIds), selfBias, encoderOutput, crossBias, cache);
        if (lastPositionOnly) hidden = hidden[.., ^1..];
        var logits = lm_head is not null ? lm_head.forward(hidden) : Projection.Apply(hidden.Times(Math.Pow(Config.ModelSize, -0.5)), shared.weight!, null, ComputeType);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>Teacher forcing: logits [B, T, V] of every decoder position.</summary>
    public Tensor forward(Tensor inputIds, Tensor? attentionMask, Tensor decoderIds)
    {
        using var scope = NewDisposeScope();
        return Decode(decoderIds, Encode(inputIds, attentionMask), attentionMask).MoveToOuterDisposeScope();
    }

    /// <summary>[B, 1, 1, S]: −∞ where a key is padding, 0 elsewhere (added to the scores).</summary>
    private static Tensor PaddingBias(Tensor attentionMask, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var padding = attentionMask.to(ScalarType.Bool).logical_not().unsqueeze(1).unsqueeze(1);
        return zeros(padding.shape, dtype, padding.device).FilledWhere(padding, double.NegativeInfinity).MoveToOuterDisposeScope();
    }

    private void InitializeWeights(Generator? generator)
    {
        // As transformers initialises T5: each projection N(0, 1/√fan-in) (queries also 1/√d_kv), embeddings N(0, 1), unit norms.
        using var noGrad = no_grad();
        double model = Config.ModelSize, inner = Config.InnerSize, ff = Config.FeedForwardSize, headSize = Config.HeadSize;
        foreach (var (name, parameter) in named_parameters())
        {
            double std = name switch
            {
                _ when name.EndsWith("layer_norm.weight") => double.NaN,
                "shared.weight" => 1.0,
                "lm_head.weight" => Math.Pow(model, -0.5),
                _ when name.EndsWith(".q.weight") => Math.Pow(model * headSize, -0.5),
                _ when name.EndsWith(".k.weight") || name.EndsWith(".v.weight") => Math.Pow(model, -0.5),
                _ when name.EndsWith(".o.weight") => Math.Pow(inner, -0.5),
                _ when name.EndsWith(".wo.weight") => Math.Pow(ff, -0.5),
                _ when name.Contains(".wi") => Math.Pow(model, -0.5),
                _ when name.EndsWith("relative_attention_bias.weight") => Math.Pow(model, -0.5),
                _ => 0.02,
            };
            if (double.IsNaN(std)) init.ones_(parameter);
            else parameter.normal_(0, std, generator);
        }
    }
}

/// <summary>An encoder or decoder: its blocks and final norm (the token embedding is the model's shared one).</summary>
internal sealed class T5Stack : Module
{
    private readonly ModuleList<T5Block> block;
    private readonly RmsNorm final_layer_norm;

    public T5Stack(T5Config config, bool isDecoder) : base(nameof(T5Stack))
    {
        int layers = isDecoder ? config.DecoderLayers : config.EncoderLayers;
        block = new ModuleList<T5Block>(Enumerable.Range(0, layers).Select(i => new T5Block(config, isDecoder, hasRelativeBias: i == 0)).ToArray());
        final_layer_norm = new RmsNorm(config.ModelSize, config.LayerNormEpsilon);
        RegisterComponents();
    }

    /// <summary>[1, H, T, K] self-attention bias of queries at <paramref name="queryStart"/>.. over keys 0..<paramref name="keyLength"/>.</summary>
    public Tensor PositionBias(long queryStart, long queryLength, long keyLength, Device device) => block[0].PositionBias(queryStart, queryLength, keyLength, device);

    public Tensor forward(Tensor x, Tensor selfBias, Tensor? encoderOutput, Tensor? crossBias, EncoderDecoderCache? cache)
    {
        using var scope = NewDisposeScope();
        for (int layer = 0; layer < block.Count; layer++)
            x = block[layer].forward(x, selfBias, encoderOutput, crossBias, cache, layer);
        return final_layer_norm.forward(x).MoveToOuterDisposeScope();
    }
}

/// <summary>x + self-attention(norm(x)); in the decoder x + cross-attention(norm(x), encoder output); then x + FF(norm(x)).
/// The sub-layers sit at <c>layer.0</c>, <c>layer.1</c> (and <c>layer.2</c>), as in the checkpoint.</summary>
internal sealed class T5Block : Module
{
    private readonly ModuleList<Module> layer;

    public T5Block(T5Config config, bool isDecoder, bool hasRelativeBias) : base(nameof(T5Block))
    {
        var self = new T5SelfAttentionLayer(config, isDecoder, hasRelativeBias);
        layer = isDecoder
            ? new ModuleList<Module>(self, new T5CrossAttentionLayer(config), new T5FeedForwardLayer(config))
            : new ModuleList<Module>(self, new T5FeedForwardLayer(config));
        RegisterComponents();
    }

    // Reached through the list only: a module held in a field as well would be registered (and saved) under two names.
    private T5SelfAttentionLayer Self => (T5SelfAttentionLayer)layer[0];
    private T5CrossAttentionLayer? Cross => layer.Count == 3 ? (T5CrossAttentionLayer)layer[1] : null;
    private T5FeedForwardLayer FeedForward => (T5FeedForwardLayer)layer[^1];

    public Tensor PositionBias(long queryStart, long queryLength, long keyLength, Device device) => Self.PositionBias(queryStart, queryLength, keyLength, device);

    public Tensor forward(Tensor x, Tensor selfBias, Tensor? encoderOutput, Tensor? crossBias, EncoderDecoderCache? cache, int index)
    {
        using var scope = NewDisposeScope();
        x = Self.forward(x, selfBias, cache, index);
        if (Cross is { } cross) x = cross.forward(x, encoderOutput!, crossBias, cache, index);
        return FeedForward.forward(x).MoveToOuterDisposeScope();
    }
}

internal sealed class T5SelfAttentionLayer : Module
{
    private readonly T5Attention SelfAttention;
    private readonly RmsNorm layer_norm;

    public T5SelfAttentionLayer(T5Config config, bool isDecoder, bool hasRelativeBias) : base(nameof(T5SelfAttentionLayer))
    {
        SelfAttention = new T5Attention(config, hasRelativeBias ? new RelativePositionBuckets(config.RelativeBuckets, config.RelativeMaxDistance, bidirectional: !isDecoder) : null);
        layer_norm = new RmsNorm(config.ModelSize, config.LayerNormEpsilon);
        RegisterComponents();
    }

    public Tensor PositionBias(long queryStart, long queryLength, long keyLength, Device device) => SelfAttention.PositionBias(queryStart, queryLength, keyLength, device);

    public Tensor forward(Tensor x, Tensor bias, EncoderDecoderCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        var normed = layer_norm.forward(x);
        var (q, k, v) = SelfAttention.Project(normed, normed);
        if (cache is not null) (k, v) = cache.Self.Append(layer, k, v);
        return x.Plus(SelfAttention.Attend(q, k, v, bias)).MoveToOuterDisposeScope();
    }
}

internal sealed class T5CrossAttentionLayer : Module
{
    private readonly T5Attention EncDecAttention;
    private readonly RmsNorm layer_norm;

    public T5CrossAttentionLayer(T5Config config) : base(nameof(T5CrossAttentionLayer))
    {
        EncDecAttention = new T5Attention(config, null);
        layer_norm = new RmsNorm(config.ModelSize, config.LayerNormEpsilon);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor encoderOutput, Tensor? bias, EncoderDecoderCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        var normed = layer_norm.forward(x);
        // The encoder's keys and values do not change while decoding: with a cache they are projected once.
        Tensor q, k, v;
        if (cache is null) (q, k, v) = EncDecAttention.Project(normed, encoderOutput);
        else
        {
            q = EncDecAttention.Queries(normed);
            (k, v) = cache.CrossKeysValues(layer, () => EncDecAttention.KeysValues(encoderOutput));
        }
        return x.Plus(EncDecAttention.Attend(q, k, v, bias)).MoveToOuterDisposeScope();
    }
}

/// <summary>Multi-head attention without score scaling (T5 folds 1/√d into its query weights' initialisation).</summary>
internal sealed class T5Attention : Module
{
    private readonly Projection q, k, v, o;
    private readonly Embedding? relative_attention_bias;
    private readonly RelativePositionBuckets? _buckets;
    private readonly int _heads, _headSize;

    public T5Attention(T5Config config, RelativePositionBuckets? buckets) : base(nameof(T5Attention))
    {
        (_heads, _headSize, _buckets) = (config.HeadCount, config.HeadSize, buckets);
        q = new Projection(config.ModelSize, config.InnerSize, hasBias: false);
        k = new Projection(config.ModelSize, config.InnerSize, hasBias: false);
        v = new Projection(config.ModelSize, config.InnerSize, hasBias: false);
        o = new Projection(config.InnerSize, config.ModelSize, hasBias: false);
        relative_attention_bias = buckets is null ? null : Embedding(config.RelativeBuckets, config.HeadCount);
        RegisterComponents();
    }

    /// <summary>[1, H, T, K]: the learned bias of each query/key pair's relative-position bucket.</summary>
    public Tensor PositionBias(long queryStart, long queryLength, long keyLength, Device device)
    {
        if (relative_attention_bias is null || _buckets is null) throw new InvalidOperationException("only a stack's first block holds the relative-position bias.");
        using var scope = NewDisposeScope();
        var table = new long[queryLength * keyLength];
        for (long i = 0; i < queryLength; i++)
            for (long j = 0; j < keyLength; j++)
                table[i * keyLength + j] = _buckets.Bucket((int)(j - (queryStart + i)));
        var buckets = tensor(table, [queryLength, keyLength], device: device);
        return relative_attention_bias.forward(buckets).permute(2, 0, 1).unsqueeze(0).MoveToOuterDisposeScope();
    }

    public (Tensor Q, Tensor K, Tensor V) Project(Tensor queries, Tensor keysValues)
    {
        var (keys, values) = KeysValues(keysValues);
        return (Queries(queries), keys, values);
    }

    public Tensor Queries(Tensor x) => Heads(q.forward(x));

    public (Tensor K, Tensor V) KeysValues(Tensor x) => (Heads(k.forward(x)), Heads(v.forward(x)));

    /// <summary>softmax(q·kᵀ + bias) · v, the softmax in fp32, then the output projection.</summary>
    public Tensor Attend(Tensor queries, Tensor keys, Tensor values, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        var scores = queries.matmul(keys.transpose(-2, -1));
        if (bias is not null) scores = scores.Plus(bias.to(scores.dtype));
        var weights = scores.to(ScalarType.Float32).softmax(-1).to(values.dtype);
        var y = weights.matmul(values);
        var (batch, time) = (y.shape[0], y.shape[2]);
        return o.forward(y.transpose(1, 2).reshape(batch, time, _heads * _headSize)).MoveToOuterDisposeScope();
    }

    private Tensor Heads(Tensor x) => x.view(x.shape[0], x.shape[1], _heads, _headSize).transpose(1, 2);
}

internal sealed class T5FeedForwardLayer : Module
{
    private readonly T5DenseActDense DenseReluDense;
    private readonly RmsNorm layer_norm;

    public T5FeedForwardLayer(T5Config config) : base(nameof(T5FeedForwardLayer))
    {
        DenseReluDense = new T5DenseActDense(config);
        layer_norm = new RmsNorm(config.ModelSize, config.LayerNormEpsilon);
        RegisterComponents();
    }

    public Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return x.Plus(DenseReluDense.forward(layer_norm.forward(x))).MoveToOuterDisposeScope();
    }
}

/// <summary>wo(act(wi(x))) (v1.0), or wo(act(wi_0(x)) · wi_1(x)) for gated activations (v1.1, FlanT5).</summary>
internal sealed class T5DenseActDense : Module
{
    private readonly Projection? wi, wi_0, wi_1;
    private readonly Projection wo;
    private readonly Module<Tensor, Tensor> _activation;

    public T5DenseActDense(T5Config config) : base(nameof(T5DenseActDense))
    {
        if (config.Gated)
        {
            wi_0 = new Projection(config.ModelSize, config.FeedForwardSize, hasBias: false);
            wi_1 = new Projection(config.ModelSize, config.FeedForwardSize, hasBias: false);
        }
        else wi = new Projection(config.ModelSize, config.FeedForwardSize, hasBias: false);
        wo = new Projection(config.FeedForwardSize, config.ModelSize, hasBias: false);
        _activation = config.Activation switch
        {
            "relu" => ReLU(),
            "gelu" => GELU(),
            "gelu_new" => GELU(TorchSharp.Modules.GELU.Approximate.tanh),
            _ => SiLU(),
        };
        RegisterComponents();
    }

    public Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var hidden = wi is not null ? _activation.forward(wi.forward(x)) : _activation.forward(wi_0!.forward(x)) * wi_1!.forward(x);
        return wo.forward(hidden).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// T5's relative-position buckets for key position − query position: half the buckets for each direction when
/// bidirectional (the encoder), else only keys at or before the query (the decoder); within a direction, distances
/// below half the buckets get one bucket each, longer ones share logarithmically wider buckets up to max_distance, and
/// all beyond share the last.
/// </summary>
public sealed class RelativePositionBuckets(int buckets, int maxDistance, bool bidirectional)
{
    public int Bucket(int relativePosition)
    {
        int perDirection = bidirectional ? buckets / 2 : buckets;
        int bucket = 0, distance;
        if (bidirectional)
        {
            if (relativePosition > 0) bucket = perDirection;
            distance = Math.Abs(relativePosition);
        }
        else distance = Math.Max(-relativePosition, 0);
        int exact = perDirection / 2;
        if (distance < exact) return bucket + distance;
        // As transformers computes it, in fp32, truncated toward zero.
        float scaled = MathF.Log(distance / (float)exact) / (float)Math.Log(maxDistance / (double)exact) * (perDirection - exact);
        return bucket + Math.Min(exact + (int)scaled, perDirection - 1);
    }
}

/// <summary>A decoder's cache: its self-attention keys and values so far, and each layer's projection of the encoder
/// output (computed at the first step, the same for every later one).</summary>
public sealed class EncoderDecoderCache(int decoderLayers) : IDisposable
{
    private readonly Tensor?[] _crossKeys = new Tensor?[decoderLayers];
    private readonly Tensor?[] _crossValues = new Tensor?[decoderLayers];

    public KeyValueCache Self { get; } = new(decoderLayers);

    public (Tensor Keys, Tensor Values) CrossKeysValues(int layer, Func<(Tensor Keys, Tensor Values)> project)
    {
        if (_crossKeys[layer] is null)
        {
            var (keys, values) = project();
            (_crossKeys[layer], _crossValues[layer]) = (keys.DetachFromDisposeScope(), values.DetachFromDisposeScope());
        }
        return (_crossKeys[layer]!.alias(), _crossValues[layer]!.alias());
    }

    public void Dispose()
    {
        Self.Dispose();
        foreach (var t in _crossKeys) t?.Dispose();
        foreach (var t in _crossValues) t?.Dispose();
        Array.Clear(_crossKeys);
        Array.Clear(_crossValues);
    }
}
