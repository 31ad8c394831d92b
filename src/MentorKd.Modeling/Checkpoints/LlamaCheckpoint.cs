using System.Text.Json;
using MentorKd.Modeling.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Checkpoints;

/// <summary>
/// Llama-family model folders as Hugging Face writes them (<c>model_type</c> llama, qwen2 or mistral; the layout is
/// <see cref="HuggingFaceFolder"/>'s). Tensor names are the model's own.
/// </summary>
public static class LlamaCheckpoint
{
    public static LlamaConfig ReadConfig(string directory) => HuggingFaceFolder.ReadConfig<LlamaConfig>(directory, "Llama-family", c => c.Validate());

    /// <summary>Builds the model on the CPU, loads and checks every weight, then converts it to <paramref name="dtype"/> and
    /// moves it to <paramref name="device"/>.</summary>
    public static LlamaLanguageModel LoadModel(string directory, Device? device = null, ScalarType dtype = ScalarType.Float32) =>
        ModelCheckpoints.Prepare(new LlamaLanguageModel(ReadConfig(directory)), model => HuggingFaceFolder.LoadWeights(model, directory,
            $"{model.Config.ModelType} model", name => name switch
            {
                // Older checkpoints store the rotary table, which is computed from config.json here.
                _ when name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) => null,
                "lm_head.weight" when model.Config.TieWordEmbeddings => "model.embed_tokens.weight",
                _ => name,
            }), device, dtype);

    /// <summary>Writes config.json and the weights (in <paramref name="dtype"/>; sharded at <paramref name="maxShardBytes"/> when given), all or nothing.</summary>
    /// <param name="writeExtras">Writes further files (the tokenizer's) into the folder before it is swapped in.</param>
    public static void Save(LlamaLanguageModel model, string directory, ScalarType dtype = ScalarType.Float32, long maxShardBytes = 0,
        IReadOnlyDictionary<string, string>? metadata = null, Action<string>? writeExtras = null) =>
        HuggingFaceFolder.Save(model.state_dict(), JsonSerializer.Serialize(model.Config with { TorchDType = HuggingFaceFolder.TorchDTypeName(dtype) }, HuggingFaceFolder.JsonOptions),
            directory, dtype, maxShardBytes, metadata, writeExtras);
}
