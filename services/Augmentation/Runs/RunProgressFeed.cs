using MentorKd.Protos.V1;

namespace MentorKd.Augmentation.Runs;

/// <summary>
/// Everything one run has reported, in order. Watchers read from any position and wait for the next event, so a
/// client that connects late still sees the whole run, and none of them slows the run down.
/// </summary>
public sealed class RunProgressFeed(Guid runId)
{
    private readonly object _gate = new();
    private readonly List<RunEvent> _events = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Guid RunId { get; } = runId;

    public bool Ended { get { lock (_gate) return _events.Count > 0 && _events[^1].Kind == RunEventKind.RunEnded; } }

    /// <summary>Completes when the next event is appended.</summary>
    public Task Changed { get { lock (_gate) return _changed.Task; } }

    public IReadOnlyList<RunEvent> From(int position)
    {
        lock (_gate) return _events.Skip(position).Select(e => e.Clone()).ToList();
    }

    public void Append(RunEvent e)
    {
        TaskCompletionSource wake;
        lock (_gate)
        {
            if (_events.Count > 0 && _events[^1].Kind == RunEventKind.RunEnded) return; // nothing follows the end
            e.RunId = RunId.ToString("D");
            e.Sequence = _events.Count;
            e.AtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            _events.Add(e);
            wake = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        wake.TrySetResult();
    }
}
