namespace MentorKd.Distillation.Data;

/// <summary>
/// A chain of thought for one question, as written by a teacher, mentor or student, with the answer extracted
/// from it and whether that answer matches gold. Only correct rationales are trained on.
/// </summary>
public sealed record Rationale(
    string QuestionId,
    string Text,
    string ExtractedAnswer,
    bool Correct,
    string Source,
    string Producer,
    SamplingSettings? Sampling = null);

/// <summary>How a rationale was sampled (null fields: not applicable or unknown).</summary>
public sealed record SamplingSettings(double? Temperature = null, int? TopK = null, double? TopP = null, long? Seed = null);
