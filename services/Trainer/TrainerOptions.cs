using System.ComponentModel.DataAnnotations;

namespace MentorKd.Trainer;

/// <summary>"Trainer" configuration section.</summary>
public sealed record TrainerOptions
{
    /// <summary>Local folder for job workspaces; a job restarted on the same folder resumes from its last epoch.</summary>
    [Required] public string WorkRoot { get; init; } = Path.Combine(Path.GetTempPath(), "mentorkd-trainer");
    /// <summary>Jobs that may wait behind the running one before StartJob answers ResourceExhausted.</summary>
    [Range(1, 10_000)] public int QueueCapacity { get; init; } = 32;
    [Required] public string Device { get; init; } = "cpu";
    [Range(0, 1024)] public int Threads { get; init; }
    /// <summary>Least time between two progress reports of a training step (epoch ends are always reported).</summary>
    [Range(0, 60_000)] public int ProgressIntervalMilliseconds { get; init; } = 250;
}
