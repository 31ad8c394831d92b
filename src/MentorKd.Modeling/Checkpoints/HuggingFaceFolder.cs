using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Checkpoints;

/// <summary>
/// What every Hugging Face model folder shares, whatever the family: <c>config.json</c>, and the weights in
/// <c>model.safetensors</c> or in shards listed by <c>model.safetensors.index.json</c> (F32, F16 or BF16), named as the
/// model's state dict names them. Problems are refused naming the file and, where there is one, the tensor.
/// </summary>
public static class HuggingFaceFolder
{
    public const string IndexFile = "model.safetensors.index.json";

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>config.json as <typeparamref name="T"/>, checked by <paramref name="validate"/> (whose ArgumentException names the key).</summary>
    public static T ReadConfig<T>(string directory, string family, Action<T> validate) where T : class
    {
        ModelFolder.RecoverInterruptedSwap(directory);
        var path = Path.Combine(directory, GptCheckpoint.ConfigFile);
        if (!File.Exists(path)) throw new CheckpointException($"{path}: not found (is '{directory}' a model folder?).");
        T? config;
        try { config = JsonSerializer.Deserialize<T>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new CheckpointException($"{path}: not a {family} config ({e.Message})."); }
        if (config is null) throw new CheckpointException($"{path}: empty.");
        try { validate(config); }
        catch (ArgumentException e) { throw new CheckpointException($"{path}: {e.Message}"); }
        return config;
    }

    /// <summary>Writes config.json and the state dict's tensors (in <paramref name="dtype"/>; split into shards of at most
    /// <paramref name="maxShardBytes"/> with an index when given and exceeded), all or nothing.</summary>
    /// <param name="writeExtras">Writes further files (the tokenizer's) into the folder before it is swapped in.</param>
    public static void Save(IEnumerable<KeyValuePair<string, Tensor>> stateDict, string configJson, string directory, ScalarType dtype, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata, Action<string>? writeExtras)
    {
        ModelFolder.WriteAtomically(directory, staging =>
        {
            File.WriteAllText(Path.Combine(staging, GptCheckpoint.ConfigFile), configJson);
            using (var scope = NewDisposeScope())
            {
                var tensors = stateDict.Select(p => (p.Key, Value: p.Value.detach().to(dtype).contiguous())).ToList();
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

    /// <summary>
    /// Copies each stored tensor into the model's parameter of that name as it is read (converting its dtype), so loading
    /// needs the model's memory plus one tensor, not twice the model's. <paramref name="parameterOf"/> maps a stored name
    /// to the parameter it fills (another name for a tied weight), or null for a stored tensor the model computes itself.
    /// </summary>
    public static void LoadWeights(nn.Module model, string directory, string description, Func<string, string?> parameterOf)
    {
        var expected = model.state_dict();
        var filled = new HashSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        using var noGrad = no_grad();
        foreach (var file in WeightFiles(directory))
        {
            SafetensorsReader.ReadEach(file, (entry, tensor) =>
            {
                var name = entry.Name;
                if (parameterOf(name) is not { } parameter) return;
                var target = expected.GetValueOrDefault(parameter)
                    ?? throw new CheckpointException($"{file}: tensor '{name}' is not part of a {description} with this config.json.");
                if (!tensor.shape.SequenceEqual(target.shape))
                    throw new CheckpointException($"{file}: tensor '{name}' has shape [{string.Join(", ", tensor.shape)}] but config.json implies [{string.Join(", ", target.shape)}].");
                if (!tensor.is_floating_point())
                    throw new CheckpointException($"{file}: tensor '{name}' is {tensor.dtype}, not a floating-point type (F32, F16, BF16).");
                if (!seen.Add(name)) throw new CheckpointException($"{file}: tensor '{name}' appears in more than one shard.");
                // A tied weight stored under both its names is the same tensor: the first fills it.
                if (filled.Add(parameter)) target.copy_(tensor);
            });
        }
        var missing = expected.Keys.Where(k => !filled.Contains(k)).ToList();
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

    public static string TorchDTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => throw new ArgumentException($"weights are saved as float32, bfloat16 or float16, not {dtype}.", nameof(dtype)),
    };
}
