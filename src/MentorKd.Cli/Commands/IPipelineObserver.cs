namespace MentorKd.Cli.Commands;

/// <summary>Hears what a run is doing (the CLI draws progress bars from it).</summary>
public interface IPipelineObserver
{
    void StageStarted(string stage, string description, double total);
    void StageProgress(string stage, double done, string detail);
    void StageCompleted(string stage, string summary);
}
