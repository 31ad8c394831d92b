using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Checkpoints;

/// <summary>
/// Reads <c>.safetensors</c> files: an 8-byte little-endian header length, a JSON header mapping names to
/// dtype / shape / byte offsets, then the raw little-endian data. Every header field is validated against the
/// file before a byte is copied, so a truncated or hand-edited file fails with a message naming the tensor
/// instead of crashing in native code.
/// </summary>
public static class SafetensorsReader
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    public static (IReadOnlyList<SafetensorsEntry> Entries, IReadOnlyDictionary<string, string> Metadata, long DataStart) ReadHeader(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.", path);
        using var stream = File.OpenRead(path);
        return ReadHeader(stream, path);
    }

    /// <summary>Reads the tensors one at a time, in the file's dtype, handing each to <paramref name="take"/> and freeing it
    /// after: a model loaded this way never holds more than one tensor beside its own weights.</summary>
    public static void ReadEach(string path, Action<SafetensorsEntry, Tensor> take)
    {
        using var stream = File.OpenRead(path);
        var (entries, _, dataStart) = ReadHeader(stream, path);
        foreach (var entry in entries)
        {
            using var tensor = empty(entry.Shape, entry.Type);
            if (entry.End > entry.Begin)
            {
                stream.Seek(dataStart + entry.Begin, SeekOrigin.Begin);
                tensor.ReadBytesFromStream(stream, 1 << 20);
            }
            take(entry, tensor);
        }
    }

    /// <summary>Loads every tensor onto the CPU, in the file's dtype.</summary>
    public static Dictionary<string, Tensor> ReadAll(string path)
    {
        using var stream = File.OpenRead(path);
        var (entries, _, dataStart) = ReadHeader(stream, path);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var entry in entries)
            {
                var tensor = empty(entry.Shape, entry.Type);
                tensors[entry.Name] = tensor;
                if (entry.End == entry.Begin) continue;
                stream.Seek(dataStart + entry.Begin, SeekOrigin.Begin);
                tensor.ReadBytesFromStream(stream, 1 << 20);
            }
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
        return tensors;
    }

    private static (IReadOnlyList<SafetensorsEntry>, IReadOnlyDictionary<string, string>, long) ReadHeader(Stream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8) throw new SafetensorsFormatException(path, null, $"file is {fileLength} bytes, too short for a safetensors header.");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > fileLength - 8)
            throw new SafetensorsFormatException(path, null, $"header length {headerLength} exceeds the file ({fileLength} bytes): truncated or not a safetensors file.");

        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        JsonDocument header;
        try { header = JsonDocument.Parse(Encoding.UTF8.GetString(headerBytes)); }
        catch (JsonException e) { throw new SafetensorsFormatException(path, null, $"header is not valid JSON ({e.Message})."); }

        using (header)
        {
            if (header.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafetensorsFormatException(path, null, "header is not a JSON object.");
            var entries = new List<SafetensorsEntry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in header.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind == JsonValueKind.Object)
                        foreach (var m in property.Value.EnumerateObject())
                            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                entries.Add(ParseEntry(path, property, dataLength));
            }
            CheckNoOverlap(path, entries, dataLength);
            return (entries, metadata, dataStart);
        }
    }

    private static SafetensorsEntry ParseEntry(string path, JsonProperty property, long dataLength)
    {
        var name = property.Name;
        var value = property.Value;
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
            throw new SafetensorsFormatException(path, name, "entry needs 'dtype' (string), 'shape' (array) and 'data_offsets' ([begin, end]).");

        var dtype = dtypeElement.GetString()!;
        if (!SafetensorsDType.TryParse(dtype, out var type, out var elementSize))
            throw new SafetensorsFormatException(path, name, $"unknown dtype '{dtype}' (supported: {string.Join(", ", SafetensorsDType.Names)}).");

        var shape = new long[shapeElement.GetArrayLength()];
        long elements = 1;
        int i = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var size) || size < 0)
                throw new SafetensorsFormatException(path, name, $"shape {shapeElement.GetRawText()} has an invalid dimension.");
            shape[i++] = size;
            elements = MultiplyOrReject(elements, size, path, name, shapeElement);
        }
        long bytes = MultiplyOrReject(elements, elementSize, path, name, shapeElement);

        long begin = ReadOffset(path, name, offsetsElement[0]);
        long end = ReadOffset(path, name, offsetsElement[1]);
        if (begin > end || end > dataLength)
            throw new SafetensorsFormatException(path, name, $"data_offsets [{begin}, {end}] fall outside the {dataLength}-byte data section (truncated file?).");
        if (end - begin != bytes)
            throw new SafetensorsFormatException(path, name, $"data_offsets span {end - begin} bytes but {dtype} {shapeElement.GetRawText()} needs {bytes}.");
        return new SafetensorsEntry(name, dtype, type, shape, begin, end);
    }

    // A crafted shape must not wrap around to a small size and reach a native allocation.
    private static long MultiplyOrReject(long a, long b, string path, string name, JsonElement shape)
    {
        try { return checked(a * b); }
        catch (OverflowException) { throw new SafetensorsFormatException(path, name, $"shape {shape.GetRawText()} is too large."); }
    }

    private static long ReadOffset(string path, string name, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var offset) || offset < 0)
            throw new SafetensorsFormatException(path, name, $"data offset {element.GetRawText()} is not a non-negative integer.");
        return offset;
    }

    private static void CheckNoOverlap(string path, List<SafetensorsEntry> entries, long dataLength)
    {
        SafetensorsEntry? previous = null;
        foreach (var entry in entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin))
        {
            if (previous is not null && entry.Begin < previous.End)
                throw new SafetensorsFormatException(path, entry.Name, $"its bytes overlap those of '{previous.Name}'.");
            previous = entry;
        }
    }
}
