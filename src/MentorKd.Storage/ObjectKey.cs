namespace MentorKd.Storage;

/// <summary>
/// Object keys are relative, slash-separated paths. Validation keeps every key inside the store (and inside the
/// prefix it was built from): no absolute paths, no "." or ".." segments, no backslashes or control characters.
/// </summary>
public static class ObjectKey
{
    public const int MaxLength = 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="field"/> when the key is unsafe.</summary>
    public static string Validate(string key, string field = "key")
    {
        if (string.IsNullOrWhiteSpace(key)) throw new ArgumentException($"{field} is empty.", field);
        if (key.Length > MaxLength) throw new ArgumentException($"{field} is longer than {MaxLength} characters.", field);
        if (key.StartsWith('/')) throw new ArgumentException($"{field} '{key}' must be relative (no leading '/').", field);
        if (key.Contains('\\') || key.Any(char.IsControl)) throw new ArgumentException($"{field} '{key}' contains a backslash or control character.", field);
        var segments = key.TrimEnd('/').Split('/');
        if (segments.Any(s => s is "" or "." or ".."))
            throw new ArgumentException($"{field} '{key}' has an empty, '.' or '..' segment.", field);
        return key;
    }

    /// <summary>A key under <paramref name="prefix"/>; the relative part may not climb out of it.</summary>
    public static string Combine(string prefix, string relative)
    {
        var combined = prefix.TrimEnd('/') + "/" + relative.TrimStart('/');
        Validate(relative.TrimStart('/'), nameof(relative));
        return Validate(combined);
    }

    /// <summary>A folder prefix, always ending in '/'.</summary>
    public static string Folder(string prefix) => Validate(prefix).TrimEnd('/') + "/";
}
