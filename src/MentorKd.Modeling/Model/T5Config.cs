using System.Text.Json.Serialization;

namespace MentorKd.Modeling.Model;

/// <summary>
/// Hyper-parameters of a T5 encoder-decoder (T5 v1.0, T5 v1.1 and FlanT5), named as their Hugging Face
/// <c>config.json</c> names them. v1.0 has a ReLU feed-forward and a head tied to the token embedding (its input scaled
/// by d_model^-0.5); v1.1 and FlanT5 a gated-GELU feed-forward and their own head. Keys that would change the computation
/// and are not implemented are refused by <see cref="Validate"/>, naming the key.
/// </summary>
public sealed record T5Config
{
    public const string Type = "t5";

    [JsonPropertyName("model_type")] public string ModelType { get; init; } = Type;
    [JsonPropertyName("architectures")] public string[]? Architectures { get; init; }
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 32128;
    [JsonPropertyName("d_model")] public int ModelSize { get; init; } = 512;
    /// <summary>Size of each attention head (inner size = heads × d_kv, not necessarily d_model).</summary>
    [JsonPropertyName("d_kv")] public int HeadSize { get; init; } = 64;
    [JsonPropertyName("d_ff")] public int FeedForwardSize { get; init; } = 2048;
    [JsonPropertyName("num_layers")] public int EncoderLayers { get; init; } = 6;
    [JsonPropertyName("num_decoder_layers")] public int? DecoderLayerCount { get; init; }
    [JsonPropertyName("num_heads")] public int HeadCount { get; init; } = 8;
    [JsonPropertyName("relative_attention_num_buckets")] public int RelativeBuckets { get; init; } = 32;
    [JsonPropertyName("relative_attention_max_distance")] public int RelativeMaxDistance { get; init; } = 128;
    [JsonPropertyName("layer_norm_epsilon")] public double LayerNormEpsilon { get; init; } = 1e-6;
    /// <summary>"relu" (v1.0), "gated-gelu" (v1.1, FlanT5: GELU's tanh form), or "gated-relu"/"gelu"/"gated-silu".</summary>
    [JsonPropertyName("feed_forward_proj")] public string FeedForward { get; init; } = "relu";
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; } = true;
    [JsonPropertyName("dropout_rate")] public double DropoutRate { get; init; } = 0.1;
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; init; }
    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; } = 1;
    [JsonPropertyName("decoder_start_token_id")] public int DecoderStartTokenId { get; init; }
    /// <summary>The longest input the model was trained with; relative positions let it run on, so it bounds nothing here but the prompts we accept.</summary>
    [JsonPropertyName("n_positions")] public int? Positions { get; init; }
    [JsonPropertyName("torch_dtype")] public string? TorchDType { get; init; }
    [JsonPropertyName("is_encoder_decoder")] public bool IsEncoderDecoder { get; init; } = true;

    [JsonIgnore] public int DecoderLayers => DecoderLayerCount ?? EncoderLayers;
    [JsonIgnore] public int InnerSize => HeadCount * HeadSize;
    [JsonIgnore] public bool Gated => FeedForward.StartsWith("gated-", StringComparison.Ordinal);
    /// <summary>The feed-forward's activation as transformers maps it ("gated-gelu" means GELU's tanh approximation).</summary>
    [JsonIgnore] public string Activation => FeedForward == "gated-gelu" ? "gelu_new" : FeedForward.Split('-')[^1];

    /// <summary>A from-scratch model (tests, small students), FlanT5's choices at a given size.</summary>
    public static T5Config Small(int vocabSize, int layers, int heads, int modelSize, int feedForward, int headSize = 0) => new()
    {
        VocabSize = vocabSize, EncoderLayers = layers, DecoderLayerCount = layers, HeadCount = heads, ModelSize = modelSize,
        HeadSize = headSize > 0 ? headSize : modelSize / heads, FeedForwardSize = feedForward, FeedForward = "gated-gelu", TieWordEmbeddings = false,
        RelativeBuckets = 32, RelativeMaxDistance = 128, DropoutRate = 0, Architectures = ["T5ForConditionalGeneration"],
    };

    /// <summary>Throws with the offending key's name when the configuration cannot build a model this code computes exactly.</summary>
    public void Validate()
    {
        static void Require(bool ok, string field, string why)
        {
            if (!ok) throw new ArgumentException($"Invalid model config: {field} {why}.", field);
        }

        Require(ModelType == Type, "model_type", $"'{ModelType}' is not {Type}");
        Require(IsEncoderDecoder, "is_encoder_decoder", "is false: a decoder-only T5 is not supported");
        Require(VocabSize > 0, "vocab_size", "must be positive");
        Require(ModelSize > 0, "d_model", "must be positive");
        Require(HeadSize > 0, "d_kv", "must be positive");
        Require(FeedForwardSize > 0, "d_ff", "must be positive");
        Require(EncoderLayers > 0, "num_layers", "must be positive");
        Require(DecoderLayers > 0, "num_decoder_layers", "must be positive");
        Require(HeadCount > 0, "num_heads", "must be positive");
        Require(RelativeBuckets >= 4 && RelativeBuckets % 2 == 0, "relative_attention_num_buckets", $"must be even and at least 4 (got {RelativeBuckets})");
        Require(RelativeMaxDistance > RelativeBuckets / 4, "relative_attention_max_distance", $"must exceed a quarter of the buckets (got {RelativeMaxDistance})");
        Require(LayerNormEpsilon > 0, "layer_norm_epsilon", "must be positive");
        var parts = FeedForward.Split('-');
        Require(parts.Length == 1 || parts is ["gated", _], "feed_forward_proj", $"'{FeedForward}' is not ACT or gated-ACT");
        Require(Activation is "relu" or "gelu" or "gelu_new" or "silu", "feed_forward_proj", $"'{FeedForward}' uses an activation this code does not compute (relu, gelu, silu)");
        Require(DecoderStartTokenId >= 0 && DecoderStartTokenId < VocabSize, "decoder_start_token_id", $"must be a token id (got {DecoderStartTokenId})");
    }
}
