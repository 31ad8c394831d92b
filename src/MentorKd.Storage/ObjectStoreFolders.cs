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
        prefix = ObjectKey.Folder(prefix);
        var manifest = new StringBuilder();
        long total = 0;
        foreach (var file in Directory.EnumerateFiles(localFolder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(localFolder, file).Replace(Path.DirectorySeparatorChar, '/');
            if (include is not null && !include(relative)) continue;
            await using var stream = File.OpenRead(file);
            var info = await store.PutAsync(ObjectKey.Combine(prefix, relative), stream, cancellationToken);
            manifest.Append(relative).Append(' ').Append(info.Sha256).Append('\n');
            total += info.Size;
        }
        return new ObjectInfo(prefix, total, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(manifest.ToString()))));
    }

    /// <summary>Downloads every object under <paramref name="prefix"/> (or those <paramref name="include"/> picks by their
    /// relative path) into <paramref name="localFolder"/>.</summary>
    public static async Task<ObjectInfo> DownloadAsync(this IObjectStore store, string prefix, string localFolder, CancellationToken cancellationToken = default,
        Func<string, bool>? include = null)
    {
        prefix = ObjectKey.Folder(prefix);
        var manifest = new StringBuilder();
        long total = 0;
        await foreach (var info in store.ListAsync(prefix, cancellationToken))
        {
            var relative = info.Key[prefix.Length..];
            if (include is not null && !include(relative)) continue;
            var path = Path.Combine(localFolder, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await using (var file = File.Create(path))
                await store.GetAsync(info.Key, file, cancellationToken);
            manifest.Append(relative).Append(' ').Append(info.Sha256).Append('\n');
            total += info.Size;
        }
        if (total == 0 && manifest.Length == 0) throw new ObjectNotFoundException(prefix);
        return new ObjectInfo(prefix, total, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(manifest.ToString()))));
    }

    /// <summary>The folder's size and hash as <see cref="UploadAsync"/> computes them, from the store's listing (nothing is
    /// read); <see cref="ObjectNotFoundException"/> when nothing under <paramref name="prefix"/> is included.</summary>
    public static async Task<ObjectInfo> StatFolderAsync(this IObjectStore store, string prefix, CancellationToken cancellationToken = default,
        Func<string, bool>? include = null)
    {
        prefix = ObjectKey.Folder(prefix);
        var manifest = new StringBuilder();
        long total = 0;
        await foreach (var info in store.ListAsync(prefix, cancellationToken))
        {
            var relative = info.Key[prefix.Length..];
            if (include is not null && !include(relative)) continue;
            manifest.Append(relative).Append(' ').Append(info.Sha256).Append('\n');
            total += info.Size;
        }
        if (manifest.Length == 0) throw new ObjectNotFoundException(prefix);
        return new ObjectInfo(prefix, total, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(manifest.ToString()))));
    }
}
