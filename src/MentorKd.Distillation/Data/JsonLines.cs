using System.Text.Json;
using System.Text.Json.Serialization;

namespace MentorKd.Distillation.Data;

/// <summary>JSONL files of records (snake_case keys). Writes are atomic: a temporary file renamed into place. Rows read
/// are bounded (a line's length, its nesting), since a client may name the file.</summary>
public static class JsonLines
{
    /// <summary>The longest line a row may be: a question or rationale is a few kilobytes.</summary>
    public const int MaxLineChars = 1_000_000;

    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // The records nest a few levels; deeper input is refused as malformed rather than walked.
        MaxDepth = 16,
    };

    public static IReadOnlyList<T> Read<T>(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"'{path}' not found.", path);
        return Parse<T>(File.ReadLines(path), path);
    }

    /// <param name="source">Names the input in error messages (a path or an object key).</param>
    public static IReadOnlyList<T> Parse<T>(IEnumerable<string> lines, string source)
    {
        var rows = new List<T>();
        int lineNumber = 0;
        foreach (var line in lines)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            if (line.Length > MaxLineChars)
                throw new InvalidDataException($"{source}:{lineNumber}: a line of {line.Length:N0} characters; a row may have at most {MaxLineChars:N0}.");
            try
            {
                rows.Add(JsonSerializer.Deserialize<T>(line, Options) ?? throw new JsonException("null row"));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{source}:{lineNumber}: not a valid {typeof(T).Name} ({e.Message}).", e);
            }
        }
        return rows;
    }

    public static void Write<T>(string path, IEnumerable<T> rows)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temp = path + ".tmp";
        using (var writer = new StreamWriter(temp))
            foreach (var row in rows)
                writer.WriteLine(JsonSerializer.Serialize(row, Options));
        File.Move(temp, path, overwrite: true);
    }

    public static void Append<T>(string path, T row)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.AppendAllText(path, JsonSerializer.Serialize(row, Options) + "\n");
    }
}
