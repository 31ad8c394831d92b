using System.Collections.Concurrent;
using System.Threading.Channels;

namespace MentorKd.Augmentation.Runs;

/// <summary>
/// The runs this process is working on or has worked on since it started: their progress feeds and cancellation, and
/// the queue the <see cref="RunWorker"/> takes them from. Beginning a run that is already here does nothing, which
/// makes a RunSubmitted delivered twice start one run.
/// </summary>
public sealed class LiveRuns
{
    private readonly ConcurrentDictionary<Guid, LiveRun> _runs = new();
    private readonly Channel<LiveRun> _queue = Channel.CreateUnbounded<LiveRun>();

    public ChannelReader<LiveRun> Queue => _queue.Reader;

    /// <summary>True when the run is now queued: it was unknown here, or its previous attempt has ended (a retry);
    /// false while an attempt is queued or working.</summary>
    public bool TryBegin(Guid runId)
    {
        var run = new LiveRun(runId);
        while (true)
        {
            if (_runs.TryAdd(runId, run)) break;
            if (!_runs.TryGetValue(runId, out var previous)) continue;
            if (!previous.Feed.Ended) return false;
            if (_runs.TryUpdate(runId, run, previous)) break;
        }
        _queue.Writer.TryWrite(run);
        return true;
    }

    public LiveRun? Find(Guid runId) => _runs.GetValueOrDefault(runId);

    public void Cancel(Guid runId) => Find(runId)?.Cancellation.Cancel();
}

/// <summary>One run in this process: what it reported, and how to stop it.</summary>
public sealed class LiveRun(Guid runId)
{
    public Guid RunId { get; } = runId;
    public RunProgressFeed Feed { get; } = new(runId);
    public CancellationTokenSource Cancellation { get; } = new();
}
