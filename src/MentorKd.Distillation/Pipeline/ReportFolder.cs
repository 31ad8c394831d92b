namespace MentorKd.Distillation.Pipeline;

/// <summary>Where a run's report is composed before it is stored: report.md, results.json and the learning curves.</summary>
public sealed class ReportFolder(string root)
{
    public string Root { get; } = Path.GetFullPath(root);
    public string Report => Path.Combine(Root, "report.md");
    public string Results => Path.Combine(Root, "results.json");
    public string LossCurves => Path.Combine(Root, "learning-curves-loss.png");
    public string AccuracyCurves => Path.Combine(Root, "learning-curves-accuracy.png");
}
