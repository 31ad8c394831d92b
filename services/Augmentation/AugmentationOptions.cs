using System.ComponentModel.DataAnnotations;

namespace MentorKd.Augmentation;

/// <summary>"Augmentation" configuration section.</summary>
public sealed record AugmentationOptions
{
    /// <summary>Where the mentor-server listens, e.g. http://mentor-server:5102.</summary>
    [Required, Url] public string MentorServerAddress { get; init; } = "http://localhost:5102";
    /// <summary>Questions sent to the mentor-server per Generate call.</summary>
    [Range(1, 10_000)] public int QuestionsPerCall { get; init; } = 64;
}
