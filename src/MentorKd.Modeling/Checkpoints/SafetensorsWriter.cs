using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Checkpoints;

/// <summary>
/// Writes <c>.safetensors</c> files that Hugging Face's reader accepts: header padded with spaces to 8 bytes,
/// tensors laid out back to back in name order. The file appears under its name only when complete
/// (written to a temporary name, then renamed).
/// </summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = tensors.Keys.OrderBy(n => n, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var name in names)
        {
            var tensor = tensors[name];
            long bytes = tensor.numel() * tensor.ElementSize;
            header[name] = new Dictionary<string, object>
            {
                ["dtype"] = SafetensorsDType.NameOf(tensor.dtype),
                ["shape"] = tensor.shape,
                ["data_offsets"] = new[] { offset, offset + bytes },
            };
            offset += bytes;
        }

        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8;
        var headerBytes = new byte[padded];
        json.CopyTo(headerBytes, 0);
        headerBytes.AsSpan(json.Length).Fill((byte)' ');

        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
                stream.Write(length);
                stream.Write(headerBytes);
                foreach (var name in names)
                {
                    // Every temporary of the chain belongs to the scope: an unscoped one (the detached alias) could be
                    // collected, and freed by its finalizer, while the next native call still reads it (a crash seen
                    // in a trainer saving its optimiser state).
                    using var scope = NewDisposeScope();
                    var cpu = tensors[name].detach().cpu().contiguous();
                    if (cpu.numel() > 0) cpu.WriteBytesToStream(stream, 1 << 20);
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
