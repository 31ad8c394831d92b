using System.ComponentModel.DataAnnotations;
using MentorKd.Distillation.Teachers;

namespace MentorKd.TeacherGateway;

/// <summary>Which teachers this gateway fronts ("TeacherGateway" configuration section).</summary>
public sealed record TeacherGatewayOptions
{
    /// <summary>The default teacher: "simulated" (synthetic tasks), "replay" (recorded rationales, JSONL of our Rationale
    /// records) or "openai" (the named teacher <see cref="DefaultTeacher"/>).</summary>
    [Required, RegularExpression("^(simulated|replay|openai)$", ErrorMessage = "TeacherGateway:Kind must be simulated, replay or openai.")]
    public string Kind { get; init; } = "simulated";

    [Range(0.0, 0.99)]
    public double ErrorRate { get; init; } = 0.15;

    public int Seed { get; init; } = 42;

    /// <summary>JSONL of recorded rationales (replay).</summary>
    public string? ReplayFile { get; init; }

    /// <summary>LLM teachers behind OpenAI-compatible APIs, by name; a request or run names one, or gets the default.</summary>
    public Dictionary<string, OpenAiTeacherOptions> Teachers { get; init; } = new();

    /// <summary>The named teacher used when Kind is "openai" and a request names none.</summary>
    public string? DefaultTeacher { get; init; }
}
