using System.ComponentModel.DataAnnotations;

namespace MentorKd.Evaluator;

/// <summary>"Evaluator" configuration section.</summary>
public sealed record EvaluatorOptions
{
    [Range(1, 10_000)] public int QueueCapacity { get; init; } = 16;
    [Required] public string CacheRoot { get; init; } = Path.Combine(Path.GetTempPath(), "mentorkd-evaluator-cache");
    [Required] public string Device { get; init; } = "cpu";
    [Range(0, 1024)] public int Threads { get; init; }
}
