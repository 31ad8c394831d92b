using System.Security.Cryptography;
using System.Text;

namespace MentorKd.Storage;

/// <summary>
/// Model folders (checkpoints) moved between a local folder and a key prefix. The folder's hash is the SHA-256
/// of its manifest ("path sha256" lines in order), so two identical checkpoints have the same hash.
/// </summary>
public static class ObjectStoreFolders
{
    public static async Task<ObjectInfo> UploadAsync(this IObjectStore store, string localFolder, string prefix, CancellationToken cancellationToken = default)
    {
        prefix = ObjectKey.Folder(prefix);
        var manifest = new StringBuilder();
        long total = 0;
        foreach (var file in Directory.EnumerateFiles(localFolder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(localFolder, file).Replace(Path.DirectorySeparatorChar, '/');
            await using var stream = File.OpenRead(file);
            var info = await store.PutAsync(ObjectKey.Combine(prefix, relative), stream, cancellationToken);
            manifest.Append(relative).Append(' ').Append(info.Sha256).Append('\n');
            total += info.Size;
        }
        return new ObjectInfo(prefix, total, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(manifest.ToString()))));
    }

    /// <summary>Downloads every object under <paramref name="prefix"/> into <paramref name="localFolder"/>.</summary>
    public static async Task<ObjectInfo> DownloadAsync(this IObjectStore store, string prefix, string localFolder, CancellationToken cancellationToken = default)
    {
        prefix = ObjectKey.Folder(prefix);
        var manifest = new StringBuilder();
        long total = 0;
        await foreach (var info in store.ListAsync(prefix, cancellationToken))
        {
            var relative = info.Key[prefix.Length..];
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
}
