using MentorKd.Distillation.Pipeline;
using Spectre.Console;

namespace MentorKd.Cli.Commands;

/// <summary>One progress bar per pipeline stage (interactive terminals).</summary>
internal sealed class SpectreProgressObserver(ProgressContext context) : IPipelineObserver
{
    private readonly Dictionary<string, ProgressTask> _tasks = new();

    public void StageStarted(string stage, string description, double total)
    {
        var task = context.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total));
        _tasks[stage] = task;
    }

    public void StageProgress(string stage, double done, string detail)
    {
        if (!_tasks.TryGetValue(stage, out var task)) return;
        task.Value = done;
        if (detail.Length > 0) task.Description = Markup.Escape($"{stage}: {detail}");
    }

    public void StageCompleted(string stage, string summary)
    {
        if (!_tasks.TryGetValue(stage, out var task)) return;
        task.Description = Markup.Escape(summary);
        task.Value = task.MaxValue;
        task.StopTask();
    }
}
