using System.Text.Json;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Checkpoints;

/// <summary>
/// Model folders of every family this code runs, as one entry point: <c>config.json</c>'s <c>model_type</c> picks the
/// loader (gpt2; llama, qwen2, mistral; t5), and a model is saved in its own family's layout.
/// </summary>
public static class ModelCheckpoints
{
    public static readonly IReadOnlyList<string> ModelTypes = ["gpt2", .. LlamaConfig.ModelTypes, T5Config.Type];

    /// <summary>The files of a Hugging Face model folder this code reads (weights, configs, tokenizer), by their path in
    /// the folder: what is copied when a folder is imported, leaving out other formats' weights (pytorch_model.bin, onnx/, …).</summary>
    public static bool IsModelFile(string relativePath) =>
        !relativePath.Contains('/') && (relativePath.EndsWith(".safetensors", StringComparison.Ordinal) || IsTokenizerFile(relativePath) || relativePath is
            GptCheckpoint.ConfigFile or "generation_config.json" or "model.safetensors.index.json");

    /// <summary>The files a model folder's tokenizer may be made of (config.json too: it may name end-of-text).</summary>
    public static bool IsTokenizerFile(string relativePath) => relativePath is
        HuggingFaceBpeTokenizer.TokenizerFile or HuggingFaceBpeTokenizer.ConfigFile or "special_tokens_map.json" or
        Gpt2BpeTokenizer.VocabFile or Gpt2BpeTokenizer.MergesFile or "spiece.model" or "tokenizer.model" or GptCheckpoint.ConfigFile;

    /// <summary>The folder's <c>model_type</c>, or a <see cref="CheckpointException"/> naming config.json's problem.</summary>
    public static string ModelTypeOf(string directory)
    {
        ModelFolder.RecoverInterruptedSwap(directory);
        var path = Path.Combine(directory, GptCheckpoint.ConfigFile);
        if (!File.Exists(path)) throw new CheckpointException($"{path}: not found (is '{directory}' a model folder?).");
        try
        {
            using var config = JsonDocument.Parse(File.ReadAllText(path));
            return config.RootElement.ValueKind == JsonValueKind.Object && config.RootElement.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String
                ? type.GetString()!
                : throw new CheckpointException($"{path}: no model_type (one of {string.Join(", ", ModelTypes)}).");
        }
        catch (JsonException e) { throw new CheckpointException($"{path}: not valid JSON ({e.Message})."); }
    }

    /// <summary>Whether a <c>model_type</c> reads its prompt with an encoder (t5) rather than as the start of its sequence.</summary>
    public static bool IsEncoderDecoder(string modelType) => modelType == T5Config.Type;

    /// <summary>The folder's <c>model_type</c>, when this code runs that family.</summary>
    public static string SupportedModelTypeOf(string directory)
    {
        var type = ModelTypeOf(directory);
        return ModelTypes.Contains(type) ? type : throw new CheckpointException(
            $"{Path.Combine(directory, GptCheckpoint.ConfigFile)}: model_type '{type}' is not supported (supported: {string.Join(", ", ModelTypes)}).");
    }

    public static LanguageModel LoadModel(string directory, Device? device = null, ScalarType dtype = ScalarType.Float32) => SupportedModelTypeOf(directory) switch
    {
        "gpt2" => GptCheckpoint.LoadModel(directory, device, dtype),
        T5Config.Type => T5Checkpoint.LoadModel(directory, device, dtype),
        _ => LlamaCheckpoint.LoadModel(directory, device, dtype),
    };

    /// <summary>Fills a freshly built model's weights, converts it to <paramref name="dtype"/>, moves it to
    /// <paramref name="device"/> and sets it to evaluation; a model that fails on the way is disposed.</summary>
    internal static T Prepare<T>(T model, Action<T> loadWeights, Device? device, ScalarType dtype) where T : LanguageModel
    {
        try
        {
            loadWeights(model);
            if (dtype != ScalarType.Float32) model.to(dtype);
            if (device is not null && device.type != DeviceType.CPU) model.to(device);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The model and the tokenizer its folder carries (which must not have more tokens than the model).</summary>
    public static (LanguageModel Model, ITokenizer Tokenizer) Load(string directory, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var tokenizer = TokenizerFiles.Load(directory);
        var model = LoadModel(directory, device, dtype);
        if (tokenizer.VocabSize > model.VocabSize)
        {
            model.Dispose();
            throw new CheckpointException($"{directory}: the tokenizer has {tokenizer.VocabSize} tokens but config.json's vocab_size is {model.VocabSize}.");
        }
        return (model, tokenizer);
    }

    /// <summary>The <c>model_type</c> a model is saved under.</summary>
    public static string ModelTypeOf(LanguageModel model) => model switch
    {
        GptLanguageModel => "gpt2",
        LlamaLanguageModel llama => llama.Config.ModelType,
        T5LanguageModel => T5Config.Type,
        _ => throw new NotSupportedException($"{model.GetType().Name} has no checkpoint layout."),
    };

    /// <summary>Writes the model in its family's layout with the tokenizer's files, all or nothing.</summary>
    /// <param name="writeExtras">Writes further files (e.g. optimiser state) into the folder before it is swapped in.</param>
    public static void Save(LanguageModel model, ITokenizer tokenizer, string directory, ScalarType dtype = ScalarType.Float32,
        IReadOnlyDictionary<string, string>? metadata = null, Action<string>? writeExtras = null)
    {
        void WithTokenizer(string staging)
        {
            tokenizer.Save(staging);
            writeExtras?.Invoke(staging);
        }

        switch (model)
        {
            case GptLanguageModel gpt:
                GptCheckpoint.Save(gpt, tokenizer, directory, dtype, metadata, writeExtras);
                break;
            case LlamaLanguageModel llama:
                LlamaCheckpoint.Save(llama, directory, dtype, metadata: metadata, writeExtras: WithTokenizer);
                break;
            case T5LanguageModel t5:
                T5Checkpoint.Save(t5, directory, dtype, metadata: metadata, writeExtras: WithTokenizer);
                break;
            default:
                throw new NotSupportedException($"{model.GetType().Name} has no checkpoint layout.");
        }
    }
}
