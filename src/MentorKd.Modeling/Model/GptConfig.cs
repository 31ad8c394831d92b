using System.Text.Json.Serialization;

namespace MentorKd.Modeling.Model;

/// <summary>
/// Hyper-parameters of a GPT-2-family model. Property names serialise to Hugging Face's GPT-2
/// <c>config.json</c> keys so a folder we write is a folder transformers can read, and vice versa.
/// </summary>
public sealed record GptConfig
{
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 50257;
    [JsonPropertyName("n_positions")] public int ContextLength { get; init; } = 1024;
    [JsonPropertyName("n_embd")] public int EmbeddingSize { get; init; } = 768;
    [JsonPropertyName("n_layer")] public int LayerCount { get; init; } = 12;
    [JsonPropertyName("n_head")] public int HeadCount { get; init; } = 12;
    /// <summary>MLP width; null means 4 × <see cref="EmbeddingSize"/> as in GPT-2.</summary>
    [JsonPropertyName("n_inner")] public int? InnerSize { get; init; }
    [JsonPropertyName("layer_norm_epsilon")] public double LayerNormEpsilon { get; init; } = 1e-5;
    [JsonPropertyName("embd_pdrop")] public double EmbeddingDropout { get; init; } = 0.1;
    [JsonPropertyName("attn_pdrop")] public double AttentionDropout { get; init; } = 0.1;
    [JsonPropertyName("resid_pdrop")] public double ResidualDropout { get; init; } = 0.1;
    [JsonPropertyName("activation_function")] public string ActivationFunction { get; init; } = "gelu_new";
    [JsonPropertyName("bos_token_id")] public int BosTokenId { get; init; } = 50256;
    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; } = 50256;
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; } = true;
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "gpt2";
    [JsonPropertyName("architectures")] public string[] Architectures { get; init; } = ["GPT2LMHeadModel"];

    [JsonIgnore] public int MlpSize => InnerSize ?? 4 * EmbeddingSize;
    [JsonIgnore] public int HeadSize => EmbeddingSize / HeadCount;

    /// <summary>GPT-2 small (124M parameters).</summary>
    public static GptConfig Gpt2Small => new();

    /// <summary>A from-scratch model sized for this project's CPUs.</summary>
    public static GptConfig Small(int vocabSize, int layers, int heads, int embedding, int contextLength, double dropout = 0.0, int eosTokenId = 0) => new()
    {
        VocabSize = vocabSize,
        LayerCount = layers,
        HeadCount = heads,
        EmbeddingSize = embedding,
        ContextLength = contextLength,
        EmbeddingDropout = dropout,
        AttentionDropout = dropout,
        ResidualDropout = dropout,
        BosTokenId = eosTokenId,
        EosTokenId = eosTokenId,
    };

    /// <summary>Throws with the offending field's name when the configuration cannot build a model.</summary>
    public void Validate()
    {
        static void Require(bool ok, string field, string why)
        {
            if (!ok) throw new ArgumentException($"Invalid model config: {field} {why}.", field);
        }

        Require(VocabSize > 0, "vocab_size", "must be positive");
        Require(ContextLength > 0, "n_positions", "must be positive");
        Require(LayerCount > 0, "n_layer", "must be positive");
        Require(HeadCount > 0, "n_head", "must be positive");
        Require(EmbeddingSize > 0 && EmbeddingSize % HeadCount == 0, "n_embd", $"must be a positive multiple of n_head ({HeadCount})");
        Require(MlpSize > 0, "n_inner", "must be positive");
        Require(ActivationFunction is "gelu_new" or "gelu" or "gelu_pytorch_tanh", "activation_function", $"'{ActivationFunction}' is not supported (gelu_new, gelu, gelu_pytorch_tanh)");
        Require(TieWordEmbeddings, "tie_word_embeddings", "must be true (the LM head is the token embedding)");
        Require(EmbeddingDropout is >= 0 and < 1 && AttentionDropout is >= 0 and < 1 && ResidualDropout is >= 0 and < 1, "*_pdrop", "must be in [0, 1)");
    }
}
