using MentorKd.Distillation.Pipeline;

namespace MentorKd.Cli.Commands;

/// <summary>Plain progress lines for logs and CI: each stage's start, every tenth of its way, and its end.</summary>
internal sealed class LineProgressObserver : IPipelineObserver
{
    private readonly Dictionary<string, (double Total, int Reported)> _stages = new();

    public void StageStarted(string stage, string description, double total)
    {
        _stages[stage] = (Math.Max(1, total), 0);
        Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {description}");
    }

    public void StageProgress(string stage, double done, string detail)
    {
        if (!_stages.TryGetValue(stage, out var state)) return;
        int tenth = (int)(10 * done / state.Total);
        if (tenth <= state.Reported) return;
        _stages[stage] = state with { Reported = tenth };
        Console.WriteLine($"[{DateTime.Now:HH:mm:ss}]   {stage} {10 * tenth}% {detail}");
    }

    public void StageCompleted(string stage, string summary) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] done: {summary}");
}
