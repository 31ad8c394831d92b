using static TorchSharp.torch;

namespace MentorKd.Modeling.Checkpoints;

/// <summary>Safetensors dtype strings ↔ libtorch scalar types, with element sizes.</summary>
public static class SafetensorsDType
{
    private static readonly Dictionary<string, (ScalarType Type, int Size)> ByName = new(StringComparer.Ordinal)
    {
        ["F64"] = (ScalarType.Float64, 8),
        ["F32"] = (ScalarType.Float32, 4),
        ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2),
        ["I64"] = (ScalarType.Int64, 8),
        ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2),
        ["I8"] = (ScalarType.Int8, 1),
        ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    public static bool TryParse(string name, out ScalarType type, out int elementSize)
    {
        var found = ByName.TryGetValue(name, out var entry);
        (type, elementSize) = found ? entry : (default, 0);
        return found;
    }

    public static string NameOf(ScalarType type) =>
        ByName.FirstOrDefault(kv => kv.Value.Type == type).Key
        ?? throw new NotSupportedException($"dtype {type} has no safetensors spelling.");

    public static IEnumerable<string> Names => ByName.Keys;
}
