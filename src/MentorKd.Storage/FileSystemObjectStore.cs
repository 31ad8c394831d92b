using System.Runtime.CompilerServices;

namespace MentorKd.Storage;

/// <summary>
/// Objects as files under a root folder (embedded mode, tests). Writes go to a temporary file in the root's
/// <c>.incoming</c> folder and are renamed into place, so an interrupted write leaves nothing under the key.
/// The SHA-256 is kept in a sidecar written (also by rename) after the content; a sidecar older than its content
/// (a crash in between, or racing writers) is not trusted and the content is hashed again.
/// </summary>
public sealed class FileSystemObjectStore : IObjectStore
{
    private const string IncomingFolder = ".incoming";
    private const string HashSuffix = ".sha256";
    private readonly string _root;

    public FileSystemObjectStore(string root)
    {
        _root = Path.GetFullPath(root);
        Directory.CreateDirectory(Path.Combine(_root, IncomingFolder));
    }

    public async Task<ObjectInfo> PutAsync(string key, Stream content, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        var temp = Path.Combine(_root, IncomingFolder, Guid.NewGuid().ToString("N"));
        try
        {
            (long size, string sha) result;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                result = await HashingCopy.CopyAsync(content, file, cancellationToken);
                await file.FlushAsync(cancellationToken);
            }
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Move(temp, path, overwrite: true);
            var hashTemp = temp + HashSuffix;
            await File.WriteAllTextAsync(hashTemp, result.sha, CancellationToken.None);
            File.Move(hashTemp, path + HashSuffix, overwrite: true);
            return new ObjectInfo(key, result.size, result.sha);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
            if (File.Exists(temp + HashSuffix)) File.Delete(temp + HashSuffix);
        }
    }

    public async Task GetAsync(string key, Stream destination, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        if (!File.Exists(path)) throw new ObjectNotFoundException(key);
        await using var file = File.OpenRead(path);
        await file.CopyToAsync(destination, cancellationToken);
    }

    public async Task<ObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        if (!File.Exists(path)) return null;
        var sidecar = path + HashSuffix;
        bool trusted = File.Exists(sidecar) && File.GetLastWriteTimeUtc(sidecar) >= File.GetLastWriteTimeUtc(path);
        var sha = trusted ? await File.ReadAllTextAsync(sidecar, cancellationToken) : await HashingCopy.HashFileAsync(path, cancellationToken);
        return new ObjectInfo(key, new FileInfo(path).Length, sha.Trim());
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (prefix.Length > 0) ObjectKey.Validate(prefix, nameof(prefix));
        var keys = Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(_root, p).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(k => !k.StartsWith(IncomingFolder + "/") && !k.EndsWith(HashSuffix) && k.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        foreach (var key in keys)
            if (await StatAsync(key, cancellationToken) is { } info) yield return info;
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        File.Delete(path);
        File.Delete(path + HashSuffix);
        return Task.CompletedTask;
    }

    private string PathOf(string key)
    {
        ObjectKey.Validate(key);
        if (key.EndsWith(HashSuffix) || key.StartsWith(IncomingFolder + "/")) throw new ArgumentException($"key '{key}' uses a name reserved by the store.", nameof(key));
        var path = Path.GetFullPath(Path.Combine(_root, key));
        // Belt and braces: validation already forbids '..', but the resolved path must stay under the root.
        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal)) throw new ArgumentException($"key '{key}' escapes the store.", nameof(key));
        return path;
    }
}
