using System.Text;
using MentorKd.Storage;

namespace MentorKd.Augmentation.Runs;

/// <summary>Which runs have work left, as markers under unfinished-runs/ in the store: set when a run is started or
/// given new questions, cleared when its work ends (completed, failed or cancelled; not when the service stops).
/// The store is where a run's state lives (its stage records), so this is all a restarted service needs.</summary>
public sealed class UnfinishedRuns(IObjectStore store)
{
    public async Task MarkAsync(Guid runId, CancellationToken cancellationToken)
    {
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(DateTime.UtcNow.ToString("O")));
        await store.PutAsync(new RunKeys(runId).UnfinishedMarker, content, cancellationToken);
    }

    public Task ClearAsync(Guid runId, CancellationToken cancellationToken) => store.DeleteAsync(new RunKeys(runId).UnfinishedMarker, cancellationToken);

    public async Task<IReadOnlyList<Guid>> ListAsync(CancellationToken cancellationToken)
    {
        var runs = new List<Guid>();
        await foreach (var info in store.ListAsync(RunKeys.UnfinishedRuns, cancellationToken))
            if (Guid.TryParse(info.Key[RunKeys.UnfinishedRuns.Length..], out var id)) runs.Add(id);
        return runs;
    }
}
