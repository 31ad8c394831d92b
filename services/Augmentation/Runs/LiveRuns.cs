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

    /// <summary>True when the run is now queued: it was unknown here, or its previous attempt has finished (a retry,
    /// or new work such as a retraining round); false while an attempt is queued or working, which is then told that
    /// more work arrived (<see cref="LiveRun.TryFinish"/>).</summary>
    public bool TryBegin(Guid runId)
    {
        var run = new LiveRun(runId);
        while (true)
        {
            if (_runs.TryAdd(runId, run)) break;
            if (!_runs.TryGetValue(runId, out var previous)) continue;
            if (previous.TryAskForMoreWork()) return false;
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
    private readonly object _gate = new();
    private bool _finished, _moreWork;

    public Guid RunId { get; } = runId;
    public RunProgressFeed Feed { get; } = new(runId);
    public CancellationTokenSource Cancellation { get; } = new();

    /// <summary>The worker is done when nothing arrived meanwhile; otherwise it goes round again. Checked and set
    /// under one lock with <see cref="TryAskForMoreWork"/>, so no request falls between the two.</summary>
    public bool TryFinish()
    {
        lock (_gate)
        {
            if (_moreWork) { _moreWork = false; return false; }
            return _finished = true;
        }
    }

    /// <summary>Ends the attempt whatever was asked meanwhile (it failed or was cancelled; requests stay stored).</summary>
    public void Finish()
    {
        lock (_gate) (_finished, _moreWork) = (true, false);
    }

    /// <summary>False once the attempt has finished (a new one must begin).</summary>
    public bool TryAskForMoreWork()
    {
        lock (_gate)
        {
            if (_finished) return false;
            return _moreWork = true;
        }
    }
}
