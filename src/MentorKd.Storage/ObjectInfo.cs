namespace MentorKd.Storage;

/// <summary>A stored object: its key, size and the SHA-256 of its content (hex, lower case).</summary>
public sealed record ObjectInfo(string Key, long Size, string Sha256);
