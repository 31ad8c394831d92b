using System.Security.Cryptography;
using System.Text;

namespace MentorKd.Storage;

/// <summary>
/// Model folders (checkpoints) moved between a local folder and a key prefix. The folder's hash is the SHA-256
/// of its manifest ("path sha256" lines in order), so two identical checkpoints have the same hash.
/// </summary>
public static class ObjectStoreFolders
{
    /// <param name="include">Which files (by path relative to the folder, '/'-separated) go up; null: all of them.</param>
    public static async Task<ObjectInfo> UploadAsync(this IObjectStore store, string localFolder, string prefix, CancellationToken cancellationToken = default,
        Func<string, bool>? include = null)
    {
        var manifest = new Manifest(prefix);
        foreach (var file in Directory.EnumerateFiles(localFolder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(localFolder, file).Replace(Path.DirectorySeparatorChar, '/');
            if (include is not null && !include(relative)) continue;
            await using var stream = File.OpenRead(file);
            manifest.Add(relative, await store.PutAsync(ObjectKey.Combine(manifest.Prefix, relative), stream, cancellationToken));
        }
        return manifest.Folder();
    }

    /// <summary>Downloads every object under <paramref name="prefix"/> (or those <paramref name="include"/> picks by their
    /// relative path) into <paramref name="localFolder"/>.</summary>
    public static async Task<ObjectInfo> DownloadAsync(this IObjectStore store, string prefix, string localFolder, CancellationToken cancellationToken = default,
        Func<string, bool>? include = null)
    {
        var manifest = new Manifest(prefix);
        await foreach (var (relative, info) in manifest.ListAsync(store, include, cancellationToken))
        {
            var path = Path.Combine(localFolder, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await using (var file = File.Create(path))
                await store.GetAsync(info.Key, file, cancellationToken);
            manifest.Add(relative, info);
        }
        return manifest.Folder(requireEntries: true);
    }

    /// <summary>The folder's size and hash as <see cref="UploadAsync"/> computes them, from the store's listing (nothing is
    /// read); <see cref="ObjectNotFoundException"/> when nothing under <paramref name="prefix"/> is included.</summary>
    public static async Task<ObjectInfo> StatFolderAsync(this IObjectStore store, string prefix, CancellationToken cancellationToken = default,
        Func<string, bool>? include = null)
    {
        var manifest = new Manifest(prefix);
        await foreach (var (relative, info) in manifest.ListAsync(store, include, cancellationToken)) manifest.Add(relative, info);
        return manifest.Folder(requireEntries: true);
    }

    /// <summary>A folder's "path sha256" lines and total size, as its objects are put, got or listed.</summary>
    private sealed class Manifest(string prefix)
    {
        private readonly StringBuilder _lines = new();
        private long _bytes;

        public string Prefix { get; } = ObjectKey.Folder(prefix);

        public async IAsyncEnumerable<(string Relative, ObjectInfo Info)> ListAsync(IObjectStore store, Func<string, bool>? include,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var info in store.ListAsync(Prefix, cancellationToken))
            {
                var relative = info.Key[Prefix.Length..];
                if (include is null || include(relative)) yield return (relative, info);
            }
        }

        public void Add(string relative, ObjectInfo info)
        {
            _lines.Append(relative).Append(' ').Append(info.Sha256).Append('\n');
            _bytes += info.Size;
        }

        public ObjectInfo Folder(bool requireEntries = false)
        {
            if (requireEntries && _lines.Length == 0) throw new ObjectNotFoundException(Prefix);
            return new ObjectInfo(Prefix, _bytes, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(_lines.ToString()))));
        }
    }
}
