using System.Text.Json;
using MentorKd.Modeling.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Checkpoints;

/// <summary>
/// T5 model folders as Hugging Face writes them (<c>model_type</c> t5; the layout is <see cref="HuggingFaceFolder"/>'s).
/// The token embedding is <c>shared.weight</c>; <c>encoder.embed_tokens.weight</c> and <c>decoder.embed_tokens.weight</c>,
/// which some files store as well, are the same matrix, and so is a tied <c>lm_head.weight</c>.
/// </summary>
public static class T5Checkpoint
{
    public static T5Config ReadConfig(string directory) => HuggingFaceFolder.ReadConfig<T5Config>(directory, "T5", c => c.Validate());

    /// <summary>Builds the model on the CPU, loads and checks every weight, then converts it to <paramref name="dtype"/> and
    /// moves it to <paramref name="device"/>.</summary>
    public static T5LanguageModel LoadModel(string directory, Device? device = null, ScalarType dtype = ScalarType.Float32) =>
        ModelCheckpoints.Prepare(new T5LanguageModel(ReadConfig(directory)), model => HuggingFaceFolder.LoadWeights(model, directory, "T5 model", name => name switch
        {
            "encoder.embed_tokens.weight" or "decoder.embed_tokens.weight" => "shared.weight",
            // T5 v1.0 files still carry a relative bias for the first decoder block's cross-attention, which T5 never uses.
            _ when name.EndsWith(".EncDecAttention.relative_attention_bias.weight", StringComparison.Ordinal) => null,
            "lm_head.weight" when model.Config.TieWordEmbeddings => "shared.weight",
            _ => name,
        }), device, dtype);

    /// <summary>Writes config.json and the weights (in <paramref name="dtype"/>; sharded at <paramref name="maxShardBytes"/> when given), all or nothing.</summary>
    /// <param name="writeExtras">Writes further files (the tokenizer's) into the folder before it is swapped in.</param>
    public static void Save(T5LanguageModel model, string directory, ScalarType dtype = ScalarType.Float32, long maxShardBytes = 0,
        IReadOnlyDictionary<string, string>? metadata = null, Action<string>? writeExtras = null) =>
        HuggingFaceFolder.Save(model.state_dict(), JsonSerializer.Serialize(model.Config with { TorchDType = HuggingFaceFolder.TorchDTypeName(dtype) }, HuggingFaceFolder.JsonOptions),
            directory, dtype, maxShardBytes, metadata, writeExtras);
}
