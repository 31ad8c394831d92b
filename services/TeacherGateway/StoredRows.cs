using System.Text;
using System.Text.Json;
using MentorKd.Distillation.Data;
using MentorKd.Storage;

namespace MentorKd.TeacherGateway;

/// <summary>JSONL objects in the store as the gateway's queue consumers read and write them: whole objects, and the
/// objects kept beside a command's output (its failures, rejections, usage) named after it.</summary>
public static class StoredRows
{
    public static async Task<IReadOnlyList<T>> ReadRowsAsync<T>(this IObjectStore store, string key, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer, cancellationToken);
        return JsonLines.Parse<T>(Encoding.UTF8.GetString(buffer.ToArray()).Split('\n'), key);
    }

    public static async Task WriteRowsAsync<T>(this IObjectStore store, string key, IEnumerable<T> rows, CancellationToken cancellationToken)
    {
        var jsonl = string.Concat(rows.Select(r => JsonSerializer.Serialize(r, JsonLines.Options) + "\n"));
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(jsonl));
        await store.PutAsync(key, content, cancellationToken);
    }

    /// <summary>"runs/x/teacher-rationales.jsonl" with "failures" → "runs/x/teacher-rationales.failures.jsonl".</summary>
    public static string Beside(string outputKey, string what) =>
        (outputKey.EndsWith(".jsonl", StringComparison.Ordinal) ? outputKey[..^".jsonl".Length] : outputKey) + $".{what}.jsonl";
}
