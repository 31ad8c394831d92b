using System.Runtime.CompilerServices;
using Minio;
using Minio.DataModel.Args;
using MinioNotFound = Minio.Exceptions.ObjectNotFoundException;

namespace MentorKd.Storage;

/// <summary>
/// Objects in a MinIO / S3 bucket through the Minio SDK. Content is first spooled to a temporary file (hashing
/// it on the way), then uploaded with its exact size: S3 makes a single PUT or a completed multipart upload
/// visible atomically, so an interrupted upload leaves no object. The SHA-256 travels as user metadata. Every call
/// waits out a server that is briefly away (<see cref="ObjectStoreRetry"/>): an upload is sent again from its spool.
/// </summary>
public sealed class MinioObjectStore(IMinioClient client, string bucket, ObjectStoreRetry? retry = null) : IObjectStore
{
    private readonly ObjectStoreRetry _retry = retry ?? ObjectStoreRetry.None;

    private const string HashMetadata = "x-amz-meta-sha256";

    public string Bucket => bucket;
    public IMinioClient Client => client;

    public async Task<ObjectInfo> PutAsync(string key, Stream content, CancellationToken cancellationToken = default)
    {
        ObjectKey.Validate(key);
        var spool = Path.Combine(Path.GetTempPath(), $"mentorkd-upload-{Guid.NewGuid():N}");
        try
        {
            (long size, string sha) result;
            await using (var file = new FileStream(spool, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                result = await HashingCopy.CopyAsync(content, file, cancellationToken);
            await _retry.RunAsync($"put '{key}'", async token =>
            {
                await using var upload = File.OpenRead(spool);
                await client.PutObjectAsync(new PutObjectArgs()
                    .WithBucket(bucket).WithObject(key)
                    .WithStreamData(upload).WithObjectSize(result.size)
                    .WithContentType("application/octet-stream")
                    .WithHeaders(new Dictionary<string, string> { [HashMetadata] = result.sha }), token);
            }, cancellationToken);
            return new ObjectInfo(key, result.size, result.sha);
        }
        finally
        {
            File.Delete(spool);
        }
    }

    public async Task GetAsync(string key, Stream destination, CancellationToken cancellationToken = default)
    {
        ObjectKey.Validate(key);
        long start = destination.CanSeek ? destination.Position : 0, written = 0;
        try
        {
            await _retry.RunAsync($"get '{key}'", async token =>
            {
                // A download cut halfway starts again from the top, over what it had written.
                if (written > 0)
                {
                    if (!destination.CanSeek)
                        throw new InvalidOperationException($"get '{key}': the download was cut after {written} bytes and its destination cannot be rewound.");
                    destination.Position = start;
                    destination.SetLength(start);
                    written = 0;
                }
                // The (stream, ct) overload: an async lambda on the Action<Stream> overload would be async void.
                await client.GetObjectAsync(new GetObjectArgs().WithBucket(bucket).WithObject(key).WithCallbackStream(async (stream, ct) =>
                {
                    var buffer = new byte[1 << 16];
                    int read;
                    while ((read = await stream.ReadAsync(buffer, ct)) > 0)
                    {
                        await destination.WriteAsync(buffer.AsMemory(0, read), ct);
                        written += read;
                    }
                }), token);
            }, cancellationToken);
        }
        catch (MinioNotFound)
        {
            throw new ObjectNotFoundException(key);
        }
    }

    public async Task<ObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKey.Validate(key);
        try
        {
            var stat = await _retry.RunAsync($"stat '{key}'", token => client.StatObjectAsync(new StatObjectArgs().WithBucket(bucket).WithObject(key), token),
                cancellationToken);
            var sha = stat.MetaData.FirstOrDefault(m => m.Key.EndsWith("sha256", StringComparison.OrdinalIgnoreCase)).Value ?? "";
            return new ObjectInfo(key, stat.Size, sha);
        }
        catch (MinioNotFound)
        {
            return null;
        }
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (prefix.Length > 0) ObjectKey.Validate(prefix, nameof(prefix));
        var keys = await _retry.RunAsync($"list '{prefix}'", async token =>
        {
            var listed = new List<string>();
            await foreach (var item in client.ListObjectsEnumAsync(new ListObjectsArgs().WithBucket(bucket).WithPrefix(prefix).WithRecursive(true), token))
                if (!item.IsDir) listed.Add(item.Key);
            return listed;
        }, cancellationToken);
        foreach (var key in keys.Order(StringComparer.Ordinal))
            if (await StatAsync(key, cancellationToken) is { } info) yield return info;
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        _retry.RunAsync($"delete '{key}'", token => client.RemoveObjectAsync(new RemoveObjectArgs().WithBucket(bucket).WithObject(ObjectKey.Validate(key)), token),
            cancellationToken);
}
