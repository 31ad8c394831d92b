using System.ComponentModel.DataAnnotations;

namespace MentorKd.MentorServer;

/// <summary>"MentorServer" configuration section.</summary>
public sealed record MentorServerOptions
{
    /// <summary>Requests that may wait for the model's thread before callers get ResourceExhausted.</summary>
    [Range(1, 100_000)] public int QueueCapacity { get; init; } = 256;
    /// <summary>Sequences decoded together.</summary>
    [Range(1, 4096)] public int BatchSize { get; init; } = 64;
    [Required] public string CacheRoot { get; init; } = Path.Combine(Path.GetTempPath(), "mentorkd-mentor-cache");
    [Required] public string Device { get; init; } = "cpu";
    [Range(0, 1024)] public int Threads { get; init; }
}
