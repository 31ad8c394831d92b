using System.ComponentModel.DataAnnotations;

namespace MentorKd.Augmentation;

/// <summary>"Augmentation" configuration section: where the other services listen, and how runs are worked.</summary>
public sealed record AugmentationOptions
{
    /// <summary>Where the mentor-server listens, e.g. http://mentor-server:5102. Trainers reach it here too for soft labels.</summary>
    [Required, Url] public string MentorServerAddress { get; init; } = "http://localhost:5102";
    /// <summary>Questions sent to the mentor-server per Generate call.</summary>
    [Range(1, 10_000)] public int QuestionsPerCall { get; init; } = 64;
    /// <summary>Log-probabilities per position a trainer asks the mentor-server for.</summary>
    [Range(1, 100_000)] public int SoftLabelTopK { get; init; } = 32;
    /// <summary>k of the sparse soft-label stores written for runs with student.soft_labels "stored" (66 bytes a token at 16).</summary>
    [Range(1, 100_000)] public int StoredSoftLabelTopK { get; init; } = 16;
    /// <summary>How long a run waits for a service or the broker that is away (restarting) before the run fails.</summary>
    [Range(0, 86_400)] public int RetrySeconds { get; init; } = 300;
    /// <summary>Local scratch space for composing tokenizers and reports before they are stored.</summary>
    [Required] public string WorkRoot { get; init; } = Path.Combine(Path.GetTempPath(), "mentorkd-augmentation");
    /// <summary>What one run may ask for ("Augmentation:Limits:MaxEpochs", …), checked when it is submitted. A service reads
    /// no file a config names unless the operator lists its folder in "Augmentation:Limits:DataRoots:0", ….</summary>
    public Distillation.Pipeline.RunLimits Limits { get; init; } = new() { DataRoots = [] };
}
