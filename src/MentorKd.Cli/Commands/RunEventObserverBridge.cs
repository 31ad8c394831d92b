using MentorKd.Distillation.Pipeline;
using MentorKd.Protos.V1;

namespace MentorKd.Cli.Commands;

/// <summary>Feeds a run's events from the Runs API to the same progress display the one-process pipeline uses.
/// A training stage learns its step count from its first progress event, so its bar starts then.</summary>
internal sealed class RunEventObserverBridge(IPipelineObserver observer)
{
    private readonly Dictionary<string, string> _pending = new();
    private readonly HashSet<string> _started = [];

    public void On(RunEvent e)
    {
        switch (e.Kind)
        {
            case RunEventKind.StageStarted when e.Total > 0:
                Start(e.Stage, e.Message, e.Total);
                break;
            case RunEventKind.StageStarted:
                _pending[e.Stage] = e.Message;
                break;
            case RunEventKind.StageProgress:
                if (!_started.Contains(e.Stage) && e.Total > 0) Start(e.Stage, _pending.GetValueOrDefault(e.Stage, e.Stage), e.Total);
                observer.StageProgress(e.Stage, e.Done, e.Training is { TokensPerSecond: > 0 } t ? $"{e.Message} ({t.TokensPerSecond:F0} tok/s)" : e.Message);
                break;
            case RunEventKind.StageCompleted:
                if (!_started.Contains(e.Stage)) Start(e.Stage, _pending.GetValueOrDefault(e.Stage, e.Message), 1);
                observer.StageCompleted(e.Stage, e.Message);
                _started.Remove(e.Stage);
                break;
        }
    }

    private void Start(string stage, string description, double total)
    {
        _started.Add(stage);
        _pending.Remove(stage);
        observer.StageStarted(stage, description, total);
    }
}
