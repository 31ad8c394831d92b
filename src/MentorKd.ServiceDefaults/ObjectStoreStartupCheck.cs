using MentorKd.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Minio;
using Minio.DataModel.Args;

namespace MentorKd.ServiceDefaults;

/// <summary>
/// Stops a host at start when its S3 store cannot be used, with the endpoint and bucket in the message, instead of
/// failing on the first request. The bucket is created when <see cref="ObjectStoreOptions.CreateBucket"/> says so.
/// </summary>
public sealed class ObjectStoreStartupCheck(IOptions<ObjectStoreOptions> options, IObjectStore store) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (store is not MinioObjectStore minio) return;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(o.StartupTimeoutSeconds));
        bool exists;
        try
        {
            exists = await minio.Client.BucketExistsAsync(new BucketExistsArgs().WithBucket(o.Bucket), timeout.Token);
            if (!exists && o.CreateBucket)
            {
                await minio.Client.MakeBucketAsync(new MakeBucketArgs().WithBucket(o.Bucket), timeout.Token);
                exists = true;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException(
                $"ObjectStore: cannot use S3 endpoint '{o.Endpoint}' (bucket '{o.Bucket}', TLS {(o.UseTls ? "on" : "off")}): {e.Message}", e);
        }
        if (!exists)
            throw new InvalidOperationException($"ObjectStore: bucket '{o.Bucket}' does not exist at '{o.Endpoint}' (set ObjectStore:CreateBucket=true to create it).");
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
