using System.Text.Json;
using System.Text.Json.Serialization;

namespace MentorKd.Modeling.Model;

/// <summary>
/// Hyper-parameters of a Llama-family decoder (Llama 2/3, Qwen2/2.5, SmolLM2, TinyLlama, Mistral), named as their
/// Hugging Face <c>config.json</c> names them, so a folder we write is one transformers reads and the other way round.
/// Keys this code does not use (<c>torch_dtype</c>, <c>use_cache</c>, …) are ignored; ones that would change the
/// computation and are not implemented are refused by <see cref="Validate"/>, naming the key.
/// </summary>
public sealed record LlamaConfig
{
    /// <summary>The <c>model_type</c>s this family reads.</summary>
    public static readonly IReadOnlyList<string> ModelTypes = ["llama", "qwen2", "mistral"];

    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "llama";
    [JsonPropertyName("architectures")] public string[]? Architectures { get; init; }
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 32000;
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 4096;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 11008;
    [JsonPropertyName("num_hidden_layers")] public int LayerCount { get; init; } = 32;
    [JsonPropertyName("num_attention_heads")] public int HeadCount { get; init; } = 32;
    /// <summary>Grouped-query attention: heads of keys and values, each shared by HeadCount / KeyValueHeads query heads.</summary>
    [JsonPropertyName("num_key_value_heads")] public int? KeyValueHeadCount { get; init; }
    [JsonPropertyName("head_dim")] public int? HeadDimension { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int ContextLength { get; init; } = 2048;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEpsilon { get; init; } = 1e-6;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000;
    [JsonPropertyName("rope_scaling")] public RopeScaling? RopeScaling { get; init; }
    [JsonPropertyName("hidden_act")] public string HiddenActivation { get; init; } = "silu";
    /// <summary>Biases on the q/k/v/o projections (Llama); unset for Qwen2, whose q/k/v always have them and o never.</summary>
    [JsonPropertyName("attention_bias")] public bool? AttentionBias { get; init; }
    [JsonPropertyName("mlp_bias")] public bool MlpBias { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }
    /// <summary>An id or a list of ids (Llama 3 instruct models end on any of several).</summary>
    [JsonPropertyName("eos_token_id")] public JsonElement? EosTokenId { get; init; }
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; init; }
    [JsonPropertyName("use_sliding_window")] public bool? UseSlidingWindow { get; init; }
    [JsonPropertyName("sliding_window")] public int? SlidingWindow { get; init; }
    [JsonPropertyName("pretraining_tp")] public int? PretrainingTensorParallel { get; init; }
    [JsonPropertyName("torch_dtype")] public string? TorchDType { get; init; }

    [JsonIgnore] public int KeyValueHeads => KeyValueHeadCount ?? HeadCount;
    [JsonIgnore] public int HeadSize => HeadDimension ?? HiddenSize / HeadCount;
    [JsonIgnore] public bool QueryKeyValueBias => AttentionBias ?? ModelType == "qwen2";
    [JsonIgnore] public bool OutputProjectionBias => AttentionBias ?? false;

    /// <summary>The end-of-sequence ids (the first is the one generation pads and stops with).</summary>
    [JsonIgnore]
    public IReadOnlyList<int> EosTokenIds => EosTokenId switch
    {
        { ValueKind: JsonValueKind.Number } id => [id.GetInt32()],
        { ValueKind: JsonValueKind.Array } ids => ids.EnumerateArray().Select(i => i.GetInt32()).ToList(),
        _ => [],
    };

    /// <summary>A from-scratch model (tests, small students): SmolLM2's choices at a given size.</summary>
    public static LlamaConfig Small(int vocabSize, int layers, int heads, int keyValueHeads, int hidden, int intermediate, int contextLength, int eosTokenId = 0) => new()
    {
        VocabSize = vocabSize, LayerCount = layers, HeadCount = heads, KeyValueHeadCount = keyValueHeads, HiddenSize = hidden,
        IntermediateSize = intermediate, ContextLength = contextLength, TieWordEmbeddings = true, RmsNormEpsilon = 1e-5,
        BosTokenId = eosTokenId, EosTokenId = JsonSerializer.SerializeToElement(eosTokenId), Architectures = ["LlamaForCausalLM"],
    };

    /// <summary>Throws with the offending key's name when the configuration cannot build a model this code computes exactly.</summary>
    public void Validate()
    {
        static void Require(bool ok, string field, string why)
        {
            if (!ok) throw new ArgumentException($"Invalid model config: {field} {why}.", field);
        }

        Require(ModelTypes.Contains(ModelType), "model_type", $"'{ModelType}' is not a Llama-family type ({string.Join(", ", ModelTypes)})");
        Require(VocabSize > 0, "vocab_size", "must be positive");
        Require(HiddenSize > 0, "hidden_size", "must be positive");
        Require(IntermediateSize > 0, "intermediate_size", "must be positive");
        Require(LayerCount > 0, "num_hidden_layers", "must be positive");
        Require(HeadCount > 0, "num_attention_heads", "must be positive");
        Require(KeyValueHeads > 0 && HeadCount % KeyValueHeads == 0, "num_key_value_heads", $"must divide num_attention_heads ({HeadCount}) (got {KeyValueHeads})");
        Require(HeadDimension is not null || HiddenSize % HeadCount == 0, "hidden_size", $"must be a multiple of num_attention_heads ({HeadCount}) when head_dim is not given");
        Require(HeadSize > 0 && HeadSize % 2 == 0, "head_dim", $"must be positive and even for rotary embeddings (got {HeadSize})");
        Require(ContextLength > 0, "max_position_embeddings", "must be positive");
        Require(RmsNormEpsilon > 0, "rms_norm_eps", "must be positive");
        Require(RopeTheta > 0, "rope_theta", "must be positive");
        Require(HiddenActivation == "silu", "hidden_act", $"'{HiddenActivation}' is not supported (silu)");
        Require(PretrainingTensorParallel is null or 1, "pretraining_tp", $"{PretrainingTensorParallel} slices the projections differently and is not supported (1)");
        // A window at least as long as the context attends like full attention; a shorter one is not implemented.
        Require(UseSlidingWindow != true || SlidingWindow is null || SlidingWindow >= ContextLength, "sliding_window",
            $"{SlidingWindow} is shorter than max_position_embeddings ({ContextLength}): sliding-window attention is not supported");
        RopeScaling?.Validate();
    }
}

/// <summary><c>rope_scaling</c>: how rotary frequencies are stretched for contexts longer than pre-training's.</summary>
public sealed record RopeScaling
{
    public const string Default = "default", Linear = "linear", Llama3 = "llama3";

    /// <summary>Newer configs name the kind <c>rope_type</c>, older ones <c>type</c>.</summary>
    [JsonPropertyName("rope_type")] public string? RopeType { get; init; }
    [JsonPropertyName("type")] public string? LegacyType { get; init; }
    [JsonPropertyName("factor")] public double Factor { get; init; } = 1;
    [JsonPropertyName("low_freq_factor")] public double LowFrequencyFactor { get; init; } = 1;
    [JsonPropertyName("high_freq_factor")] public double HighFrequencyFactor { get; init; } = 4;
    [JsonPropertyName("original_max_position_embeddings")] public int? OriginalContextLength { get; init; }

    [JsonIgnore] public string Kind => RopeType ?? LegacyType ?? Default;

    public void Validate()
    {
        if (Kind is not (Default or Linear or Llama3))
            throw new ArgumentException($"Invalid model config: rope_scaling.rope_type '{Kind}' is not supported ({Default}, {Linear}, {Llama3}).", "rope_scaling");
        if (!(Factor > 0)) throw new ArgumentException($"Invalid model config: rope_scaling.factor must be positive (got {Factor}).", "rope_scaling");
        if (Kind == Llama3 && (OriginalContextLength is not > 0 || !(HighFrequencyFactor > LowFrequencyFactor)))
            throw new ArgumentException("Invalid model config: rope_scaling (llama3) needs original_max_position_embeddings and high_freq_factor > low_freq_factor.", "rope_scaling");
    }

    /// <summary>The per-pair inverse frequencies θ^(-2i/d), stretched as this scaling says (Meta's Llama 3.1 recipe
    /// for llama3: long wavelengths divided by the factor, short ones kept, the band between interpolated).</summary>
    public static double[] InverseFrequencies(int headSize, double theta, RopeScaling? scaling)
    {
        var inverse = Enumerable.Range(0, headSize / 2).Select(i => 1.0 / Math.Pow(theta, 2.0 * i / headSize)).ToArray();
        if (scaling is null || scaling.Kind == Default) return inverse;
        if (scaling.Kind == Linear) return inverse.Select(f => f / scaling.Factor).ToArray();
        double original = scaling.OriginalContextLength!.Value;
        double longest = original / scaling.LowFrequencyFactor, shortest = original / scaling.HighFrequencyFactor;
        return inverse.Select(f =>
        {
            double wavelength = 2 * Math.PI / f;
            if (wavelength < shortest) return f;
            if (wavelength > longest) return f / scaling.Factor;
            double smooth = (original / wavelength - scaling.LowFrequencyFactor) / (scaling.HighFrequencyFactor - scaling.LowFrequencyFactor);
            return (1 - smooth) * f / scaling.Factor + smooth * f;
        }).ToArray();
    }
}
