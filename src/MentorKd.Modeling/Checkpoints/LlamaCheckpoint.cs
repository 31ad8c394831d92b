using System.Text.Json;
using System.Text.Json.Serialization;
using MentorKd.Modeling.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Checkpoints;

/// <summary>
/// Llama-family model folders as Hugging Face writes them: <c>config.json</c> (<c>model_type</c> llama, qwen2 or
/// mistral) and the weights in <c>model.safetensors</c> or in shards listed by <c>model.safetensors.index.json</c>, in
/// F32, F16 or BF16. Tensor names are the model's own. Whatever is wrong with a folder is refused naming the file and,
/// where there is one, the tensor.
/// </summary>
public static class LlamaCheckpoint
{
    public const string IndexFile = "model.safetensors.index.json";

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static LlamaConfig ReadConfig(string directory)
    {
        ModelFolder.RecoverInterruptedSwap(directory);
        var path = Path.Combine(directory, GptCheckpoint.ConfigFile);
        if (!File.Exists(path)) throw new CheckpointException($"{path}: not found (is '{directory}' a model folder?).");
        LlamaConfig? config;
        try { config = JsonSerializer.Deserialize<LlamaConfig>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new CheckpointException($"{path}: not a Llama-family config ({e.Message})."); }
        if (config is null) throw new CheckpointException($"{path}: empty.");
        try { config.Validate(); }
        catch (ArgumentException e) { throw new CheckpointException($"{path}: {e.Message}"); }
        return config;
    }

    /// <summary>Builds the model on the CPU, loads and checks every weight, then converts it to <paramref name="dtype"/> and
    /// moves it to <paramref name="device"/>.</summary>
    public static LlamaLanguageModel LoadModel(string directory, Device? device = null, ScalarType dtype = ScalarType.Float32) =>
        ModelCheckpoints.Prepare(new LlamaLanguageModel(ReadConfig(directory)), model => LoadWeights(model, directory), device, dtype);

    /// <summary>Writes config.json and the weights (in <paramref name="dtype"/>; split into shards of at most
    /// <paramref name="maxShardBytes"/> with an index when given and exceeded), all or nothing.</summary>
    /// <param name="writeExtras">Writes further files (the tokenizer's) into the folder before it is swapped in.</param>
    public static void Save(LlamaLanguageModel model, string directory, ScalarType dtype = ScalarType.Float32, long maxShardBytes = 0,
        IReadOnlyDictionary<string, string>? metadata = null, Action<string>? writeExtras = null)
    {
        ModelFolder.WriteAtomically(directory, staging =>
        {
            var config = model.Config with { TorchDType = TorchDTypeName(dtype) };
            File.WriteAllText(Path.Combine(staging, GptCheckpoint.ConfigFile), JsonSerializer.Serialize(config, JsonOptions));
            using (var scope = NewDisposeScope())
            {
                var tensors = model.state_dict().Select(p => (p.Key, Value: p.Value.detach().to(dtype).contiguous())).ToList();
                var shards = Shards(tensors, maxShardBytes);
                var header = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()) { ["format"] = "pt" };
                if (shards.Count == 1)
                {
                    SafetensorsWriter.Write(Path.Combine(staging, GptCheckpoint.WeightsFile), shards[0].ToDictionary(t => t.Key, t => t.Value), header);
                }
                else
                {
                    var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
                    for (int i = 0; i < shards.Count; i++)
                    {
                        var file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
                        SafetensorsWriter.Write(Path.Combine(staging, file), shards[i].ToDictionary(t => t.Key, t => t.Value), header);
                        foreach (var (name, _) in shards[i]) weightMap[name] = file;
                    }
                    long totalSize = tensors.Sum(t => t.Value.numel() * t.Value.element_size());
                    var index = new { metadata = new { total_size = totalSize }, weight_map = weightMap };
                    File.WriteAllText(Path.Combine(staging, IndexFile), JsonSerializer.Serialize(index, JsonOptions));
                }
            }
            writeExtras?.Invoke(staging);
        });
    }

    /// <summary>The weight files: the index's shards, or the single file.</summary>
    public static IReadOnlyList<string> WeightFiles(string directory)
    {
        var indexPath = Path.Combine(directory, IndexFile);
        if (File.Exists(indexPath))
        {
            Dictionary<string, string>? weightMap;
            try
            {
                using var index = JsonDocument.Parse(File.ReadAllText(indexPath));
                weightMap = index.RootElement.TryGetProperty("weight_map", out var map) ? map.Deserialize<Dictionary<string, string>>() : null;
            }
            catch (JsonException e) { throw new CheckpointException($"{indexPath}: not valid JSON ({e.Message})."); }
            if (weightMap is null || weightMap.Count == 0) throw new CheckpointException($"{indexPath}: no weight_map.");
            var files = new List<string>();
            foreach (var file in weightMap.Values.Distinct(StringComparer.Ordinal))
            {
                // Shards live in the folder itself: a name with a path in it is refused, not followed.
                if (file.Length == 0 || Path.GetFileName(file) != file || file is "." or "..")
                    throw new CheckpointException($"{indexPath}: shard '{file}' is not a file name in the model folder.");
                var path = Path.Combine(directory, file);
                if (!File.Exists(path)) throw new CheckpointException($"{indexPath}: shard '{file}' is missing from the folder.");
                files.Add(path);
            }
            return files;
        }
        var single = Path.Combine(directory, GptCheckpoint.WeightsFile);
        if (File.Exists(single)) return [single];
        throw new CheckpointException($"{directory}: neither {GptCheckpoint.WeightsFile} nor {IndexFile} is there.");
    }

    /// <summary>Copies each stored tensor into the model's parameter of that name as it is read (converting its dtype), so
    /// loading needs the model's memory plus one tensor, not twice the model's.</summary>
    private static void LoadWeights(LlamaLanguageModel model, string directory)
    {
        var expected = model.state_dict();
        var loaded = new HashSet<string>(StringComparer.Ordinal);
        using var noGrad = no_grad();
        foreach (var file in WeightFiles(directory))
        {
            SafetensorsReader.ReadEach(file, (entry, tensor) =>
            {
                var name = entry.Name;
                // Older checkpoints store the rotary table, which is computed from config.json here.
                if (name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)) return;
                bool tiedHead = name == "lm_head.weight" && model.Config.TieWordEmbeddings;
                var target = tiedHead ? expected["model.embed_tokens.weight"] : expected.GetValueOrDefault(name);
                if (target is null)
                    throw new CheckpointException($"{file}: tensor '{name}' is not part of a {model.Config.ModelType} model with this config.json.");
                if (!tensor.shape.SequenceEqual(target.shape))
                    throw new CheckpointException($"{file}: tensor '{name}' has shape [{string.Join(", ", tensor.shape)}] but config.json implies [{string.Join(", ", target.shape)}].");
                if (!tensor.is_floating_point())
                    throw new CheckpointException($"{file}: tensor '{name}' is {tensor.dtype}, not a floating-point type (F32, F16, BF16).");
                if (tiedHead) return; // the head is the embedding
                if (!loaded.Add(name)) throw new CheckpointException($"{file}: tensor '{name}' appears in more than one shard.");
                target.copy_(tensor);
            });
        }
        var missing = expected.Keys.Where(k => !loaded.Contains(k)).ToList();
        if (missing.Count > 0)
            throw new CheckpointException($"{directory}: missing tensor '{missing[0]}'" + (missing.Count > 1 ? $" (and {missing.Count - 1} more)." : "."));
    }

    /// <summary>Consecutive groups of tensors of at most <paramref name="maxBytes"/> each (a larger tensor gets its own).</summary>
    private static List<List<(string Key, Tensor Value)>> Shards(List<(string Key, Tensor Value)> tensors, long maxBytes)
    {
        var shards = new List<List<(string, Tensor)>> { new() };
        long size = 0;
        foreach (var tensor in tensors)
        {
            long bytes = tensor.Value.numel() * tensor.Value.element_size();
            if (maxBytes > 0 && size > 0 && size + bytes > maxBytes) (shards, size) = ([.. shards, new()], 0);
            shards[^1].Add(tensor);
            size += bytes;
        }
        return shards;
    }

    private static string TorchDTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => throw new ArgumentException($"weights are saved as float32, bfloat16 or float16, not {dtype}.", nameof(dtype)),
    };
}
