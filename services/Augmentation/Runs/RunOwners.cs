using System.Text;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Security;
using MentorKd.Storage;

namespace MentorKd.Augmentation.Runs;

/// <summary>Which client started each run (runs/{id}/submitted-by in the store, so it outlives the process), and how many
/// runs a client has under way, for the per-client limit. Starting is serialised here so two runs submitted at the same
/// moment cannot both slip under the limit.</summary>
public sealed class RunOwners(IObjectStore store, UnfinishedRuns unfinished)
{
    private readonly SemaphoreSlim _starting = new(1, 1);

    public async Task<string?> FindAsync(Guid runId, CancellationToken cancellationToken)
    {
        var key = new RunKeys(runId).SubmittedBy;
        if (await store.StatAsync(key, cancellationToken) is null) return null;
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer, cancellationToken);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Runs <paramref name="start"/> for <paramref name="caller"/>'s run: refused when the run is another client's
    /// (PermissionDenied, unless the caller is an admin) or when the caller already has <paramref name="limit"/> other runs
    /// under way (ResourceExhausted); the run's owner is recorded the first time.</summary>
    public async Task<T> StartAsync<T>(Guid runId, PlatformClient caller, int limit, Func<Task<T>> start, CancellationToken cancellationToken)
    {
        await _starting.WaitAsync(cancellationToken);
        try
        {
            var owner = await FindAsync(runId, cancellationToken);
            if (owner is not null) caller.RequireOwnerOrAdmin(owner, $"run {runId:D}");
            int underWay = 0;
            foreach (var id in await unfinished.ListAsync(cancellationToken))
                if (id != runId && await FindAsync(id, cancellationToken) == (owner ?? caller.Name)) underWay++;
            if (underWay >= limit)
                RpcErrors.ResourceExhausted($"run_id: client '{owner ?? caller.Name}' has {underWay} runs under way, the most one client may " +
                    $"(Augmentation:Limits:MaxConcurrentRunsPerClient = {limit}); start this one when one of them has ended.");
            if (owner is null)
            {
                using var content = new MemoryStream(Encoding.UTF8.GetBytes(caller.Name));
                await store.PutAsync(new RunKeys(runId).SubmittedBy, content, cancellationToken);
            }
            return await start();
        }
        finally { _starting.Release(); }
    }
}
