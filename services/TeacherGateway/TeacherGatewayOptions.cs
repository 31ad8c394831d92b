using System.ComponentModel.DataAnnotations;

namespace MentorKd.TeacherGateway;

/// <summary>Which teacher this gateway fronts ("TeacherGateway" configuration section).</summary>
public sealed record TeacherGatewayOptions
{
    /// <summary>"simulated" (synthetic tasks) or "replay" (recorded rationales, JSONL of our Rationale records).</summary>
    [Required, RegularExpression("^(simulated|replay)$", ErrorMessage = "TeacherGateway:Kind must be simulated or replay.")]
    public string Kind { get; init; } = "simulated";

    [Range(0.0, 0.99)]
    public double ErrorRate { get; init; } = 0.15;

    public int Seed { get; init; } = 42;

    /// <summary>JSONL of recorded rationales (replay).</summary>
    public string? ReplayFile { get; init; }
}
