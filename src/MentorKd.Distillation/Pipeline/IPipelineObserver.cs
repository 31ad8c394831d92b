namespace MentorKd.Distillation.Pipeline;

/// <summary>Hears what a run is doing (the CLI draws progress bars from it; tests may ignore it).</summary>
public interface IPipelineObserver
{
    void StageStarted(string stage, string description, double total);
    void StageProgress(string stage, double done, string detail);
    void StageCompleted(string stage, string summary);
}

/// <summary>An observer that ignores everything.</summary>
public sealed class SilentObserver : IPipelineObserver
{
    public static readonly SilentObserver Instance = new();
    public void StageStarted(string stage, string description, double total) { }
    public void StageProgress(string stage, double done, string detail) { }
    public void StageCompleted(string stage, string summary) { }
}
