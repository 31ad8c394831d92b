namespace MentorKd.Storage;

/// <summary>No object (or no folder) under the key asked for.</summary>
public sealed class ObjectNotFoundException(string key) : FileNotFoundException($"object '{key}' not found.", key)
{
    public string Key { get; } = key;
}
