using System.Text.Json;
using MentorKd.Storage;
using Microsoft.Extensions.Options;

namespace MentorKd.Trainer.Jobs;

/// <summary>
/// Which replica trains a job right now: trainer/jobs/{job}/lease.json, taken before a slice, renewed while it
/// runs, deleted when it ends. It keeps a job on one replica at a time when its command arrives twice (a retry, a
/// run restarted, a redelivery). A replica that finds another's lease watches it: renewed, or released and taken
/// by someone else, means the job is carried without it; a lease left to lapse means its holder died, and the
/// job is taken over from its last checkpoint.
/// </summary>
public sealed class TrainingJobLeases(IObjectStore store, IOptions<TrainerOptions> options, ILogger<TrainingJobLeases> logger)
{
    private sealed record Lease(string Owner, DateTime Until);

    /// <summary>This replica, as leases name it.</summary>
    public string Owner { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";

    private TimeSpan Length => TimeSpan.FromSeconds(options.Value.LeaseSeconds);

    public async Task<bool> TryAcquireAsync(string jobId, CancellationToken cancellationToken)
    {
        if (await ReadAsync(jobId, cancellationToken) is { } held && held.Owner != Owner && held.Until > DateTime.UtcNow)
        {
            logger.LogInformation("Job {Job} is leased by {Owner} until {Until:O}; watching the lease", jobId, held.Owner, held.Until);
            while (true)
            {
                await Task.Delay(Length / 6, cancellationToken);
                var now = await ReadAsync(jobId, cancellationToken);
                if (now is null) break; // released: its holder's slice ended
                if (now != held) return false; // renewed or taken over: the job is carried
                if (now.Until <= DateTime.UtcNow) break; // lapsed: its holder is gone
            }
        }
        await WriteAsync(jobId, new Lease(Owner, DateTime.UtcNow + Length), cancellationToken);
        // Two replicas may take a free lease at the same moment; the store keeps the last write and the other steps back.
        await Task.Delay(TimeSpan.FromMilliseconds(300), cancellationToken);
        return (await ReadAsync(jobId, cancellationToken))?.Owner == Owner;
    }

    /// <summary>Renews the lease every third of its length until disposed, and calls <paramref name="onEachRenewal"/>
    /// (checks that ride on the same beat, such as a cancellation request).</summary>
    public IAsyncDisposable KeepAlive(string jobId, Func<CancellationToken, Task> onEachRenewal)
    {
        var stop = new CancellationTokenSource();
        var loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(Length / 3, stop.Token);
                    await WriteAsync(jobId, new Lease(Owner, DateTime.UtcNow + Length), stop.Token);
                    await onEachRenewal(stop.Token);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
                catch (Exception e) { logger.LogWarning("Renewing the lease of job {Job} failed: {Error}", jobId, e.Message); }
            }
        });
        return new Renewal(stop, loop);
    }

    public async Task ReleaseAsync(string jobId, CancellationToken cancellationToken)
    {
        if ((await ReadAsync(jobId, cancellationToken))?.Owner == Owner) await store.DeleteAsync(Key(jobId), cancellationToken);
    }

    private static string Key(string jobId) => TrainingJobLedger.Folder(jobId) + "lease.json";

    private async Task<Lease?> ReadAsync(string jobId, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        try { await store.GetAsync(Key(jobId), buffer, cancellationToken); }
        catch (ObjectNotFoundException) { return null; }
        return JsonSerializer.Deserialize<Lease>(buffer.ToArray());
    }

    private async Task WriteAsync(string jobId, Lease lease, CancellationToken cancellationToken)
    {
        using var content = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(lease));
        await store.PutAsync(Key(jobId), content, cancellationToken);
    }

    private sealed class Renewal(CancellationTokenSource stop, Task loop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await loop;
            stop.Dispose();
        }
    }
}
