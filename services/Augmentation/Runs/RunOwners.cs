using System.Text;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Security;
using MentorKd.Storage;

namespace MentorKd.Augmentation.Runs;

/// <summary>Which client started each run (runs/{id}/submitted-by in the store, so it outlives the process), who may act on
/// a run, and the per-client limit on runs under way. Starting work is serialised here so two runs submitted at the same
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

    /// <summary>PermissionDenied unless <paramref name="caller"/> started the run or is an admin. A run that exists with no
    /// recorded owner (started before owners were recorded) is an admin's to act on.</summary>
    public async Task RequireOwnerOrAdminAsync(Guid runId, PlatformClient caller, CancellationToken cancellationToken)
    {
        var owner = await FindAsync(runId, cancellationToken);
        if (owner is null && !await ExistsAsync(runId, cancellationToken)) return; // a new run: whoever starts it owns it
        caller.RequireOwnerOrAdmin(owner, $"run {runId:D}");
    }

    /// <summary>Runs <paramref name="start"/> (which puts the run to work: started, or given new questions) for
    /// <paramref name="caller"/>: refused when the run is another client's (PermissionDenied, unless the caller is an
    /// admin) or when its owner already has <paramref name="limit"/> other runs under way (ResourceExhausted). The owner of
    /// a new run is recorded before it starts.</summary>
    public async Task<T> StartWithinLimitAsync<T>(Guid runId, PlatformClient caller, int limit, Func<Task<T>> start, CancellationToken cancellationToken)
    {
        await _starting.WaitAsync(cancellationToken);
        try
        {
            await RequireOwnerOrAdminAsync(runId, caller, cancellationToken);
            var owner = await FindAsync(runId, cancellationToken) ?? caller.Name;
            int underWay = 0;
            foreach (var id in await unfinished.ListAsync(cancellationToken))
                if (id != runId && await FindAsync(id, cancellationToken) == owner) underWay++;
            if (underWay >= limit)
                RpcErrors.ResourceExhausted($"run_id: client '{owner}' has {underWay} runs under way, the most one client may " +
                    $"(Augmentation:Limits:MaxConcurrentRunsPerClient = {limit}); start this one when one of them has ended.");
            if (!await ExistsAsync(runId, cancellationToken) && await store.StatAsync(new RunKeys(runId).SubmittedBy, cancellationToken) is null)
            {
                using var content = new MemoryStream(Encoding.UTF8.GetBytes(caller.Name));
                await store.PutAsync(new RunKeys(runId).SubmittedBy, content, cancellationToken);
            }
            return await start();
        }
        finally { _starting.Release(); }
    }

    private async Task<bool> ExistsAsync(Guid runId, CancellationToken cancellationToken) =>
        await store.StatAsync(new RunKeys(runId).Config, cancellationToken) is not null;
}
