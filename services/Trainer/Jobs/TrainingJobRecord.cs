using MentorKd.Protos.V1;

namespace MentorKd.Trainer.Jobs;

/// <summary>
/// The live state of a job while a slice of it trains on this replica, continuing from what the ledger holds.
/// Updates replace an immutable snapshot and wake every watcher, so WatchJob streams see each change without polling.
/// </summary>
public sealed class TrainingJobRecord(StartTrainingJobRequest request, TrainingJob stored)
{
    private readonly object _gate = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TrainingJob _snapshot = stored.Clone();

    public string JobId { get; } = stored.JobId;
    public StartTrainingJobRequest Request { get; } = request;
    public CancellationTokenSource Cancellation { get; } = new();

    public TrainingJob Snapshot { get { lock (_gate) return _snapshot.Clone(); } }

    public bool IsFinished => Snapshot.State is JobState.Completed or JobState.Failed or JobState.Cancelled;

    /// <summary>Completes when the next update lands.</summary>
    public Task Changed { get { lock (_gate) return _changed.Task; } }

    public void Update(Action<TrainingJob> change)
    {
        TaskCompletionSource wake;
        lock (_gate)
        {
            var next = _snapshot.Clone();
            change(next);
            next.Progress.State = next.State;
            _snapshot = next;
            wake = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        wake.TrySetResult();
    }
}
