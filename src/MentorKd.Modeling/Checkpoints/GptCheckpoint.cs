using System.Text.Json;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Checkpoints;

/// <summary>
/// Model folders in Hugging Face's layout: <c>config.json</c>, <c>model.safetensors</c> and the tokenizer's
/// files. What we write is a GPT-2 folder transformers loads; a GPT-2 folder from the hub loads here.
/// </summary>
public static class GptCheckpoint
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    /// <summary>
    /// Writes the folder next to its destination and swaps it in, so a reader never sees half a checkpoint.
    /// </summary>
    /// <param name="writeExtras">Writes further files (e.g. optimiser state) into the folder before it is swapped in.</param>
    public static void Save(GptLanguageModel model, ITokenizer tokenizer, string directory, ScalarType dtype = ScalarType.Float32,
        IReadOnlyDictionary<string, string>? metadata = null, Action<string>? writeExtras = null)
    {
        ModelFolder.WriteAtomically(directory, staging =>
        {
            var config = model.Config with { EosTokenId = tokenizer.EndOfTextId, BosTokenId = tokenizer.EndOfTextId, PadTokenId = tokenizer.PadId };
            File.WriteAllText(Path.Combine(staging, ConfigFile), JsonSerializer.Serialize(config, JsonOptions));
            using (var scope = NewDisposeScope())
            {
                var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                foreach (var (name, tensor) in model.state_dict())
                {
                    var value = tensor.detach().to(dtype);
                    tensors[name] = Gpt2TensorNames.IsTransposed(name) ? value.t().contiguous() : value;
                }
                SafetensorsWriter.Write(Path.Combine(staging, WeightsFile), tensors,
                    new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()) { ["format"] = "pt" });
            }
            tokenizer.Save(staging);
            writeExtras?.Invoke(staging);
        });
    }

    public static GptConfig ReadConfig(string directory)
    {
        ModelFolder.RecoverInterruptedSwap(directory);
        var path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path)) throw new CheckpointException($"{path}: not found (is '{directory}' a model folder?).");
        GptConfig? config;
        try { config = JsonSerializer.Deserialize<GptConfig>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new CheckpointException($"{path}: not valid JSON ({e.Message})."); }
        if (config is null) throw new CheckpointException($"{path}: empty.");
        if (config.ModelType != "gpt2") throw new CheckpointException($"{path}: model_type '{config.ModelType}' is not supported (gpt2).");
        try { config.Validate(); }
        catch (ArgumentException e) { throw new CheckpointException($"{path}: {e.Message}"); }
        return config;
    }

    /// <summary>Builds the model on the CPU, loads and checks every weight, then moves it to <paramref name="device"/>.</summary>
    public static GptLanguageModel LoadModel(string directory, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = ReadConfig(directory);
        var weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(weightsPath)) throw new CheckpointException($"{weightsPath}: not found.");

        return ModelCheckpoints.Prepare(new GptLanguageModel(config), model => LoadWeights(model, weightsPath), device, dtype);
    }

    private static void LoadWeights(GptLanguageModel model, string weightsPath)
    {
        using var scope = NewDisposeScope();
        var expected = model.state_dict();
        var loaded = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (fileName, tensor) in SafetensorsReader.ReadAll(weightsPath))
        {
            var name = Gpt2TensorNames.FromCheckpoint(fileName);
            if (name is null)
            {
                if (fileName == "lm_head.weight") CheckTiedHead(weightsPath, tensor, expected[Gpt2TensorNames.Prefix + "wte.weight"]);
                continue;
            }
            if (!expected.TryGetValue(name, out var target))
                throw new CheckpointException($"{weightsPath}: tensor '{fileName}' is not part of a GPT-2 model with this config.json.");
            var value = Gpt2TensorNames.IsTransposed(name) && tensor.dim() == 2 ? tensor.t() : tensor;
            if (!value.shape.SequenceEqual(target.shape))
                throw new CheckpointException(
                    $"{weightsPath}: tensor '{fileName}' has shape [{string.Join(", ", tensor.shape)}] but config.json implies " +
                    $"[{string.Join(", ", Gpt2TensorNames.IsTransposed(name) ? target.shape.Reverse() : target.shape)}].");
            loaded[name] = value.to(target.dtype);
        }

        var missing = expected.Keys.Where(k => !loaded.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw new CheckpointException($"{weightsPath}: missing tensor '{missing[0]}'" + (missing.Count > 1 ? $" (and {missing.Count - 1} more)." : "."));
        model.load_state_dict(loaded, strict: true);
    }

    private static void CheckTiedHead(string path, Tensor head, Tensor wte)
    {
        if (!head.shape.SequenceEqual(wte.shape))
            throw new CheckpointException($"{path}: tensor 'lm_head.weight' has shape [{string.Join(", ", head.shape)}], not the token embedding's [{string.Join(", ", wte.shape)}].");
    }
}
