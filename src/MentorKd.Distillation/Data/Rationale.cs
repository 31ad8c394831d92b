namespace MentorKd.Distillation.Data;

/// <summary>
/// A chain of thought for one question, as written by a teacher, mentor or student, with the answer extracted
/// from it and whether that answer matches gold. Only correct rationales are trained on.
/// </summary>
/// <param name="Problem">Why no usable rationale came back (an empty reply, a refusal, no answer stated); null when one did.
/// Such rationales are kept, judged wrong, so reports can count them.</param>
/// <param name="Logprobs">Each generated token's log-probability, when the teacher's API returned them.</param>
public sealed record Rationale(
    string QuestionId,
    string Text,
    string ExtractedAnswer,
    bool Correct,
    string Source,
    string Producer,
    SamplingSettings? Sampling = null,
    string? Problem = null,
    IReadOnlyList<TokenLogprob>? Logprobs = null);

/// <summary>How a rationale was sampled (null fields: not applicable or unknown).</summary>
public sealed record SamplingSettings(double? Temperature = null, int? TopK = null, double? TopP = null, long? Seed = null);

/// <summary>One generated token's log-probability and, when asked for, the most likely alternatives at that position.</summary>
public sealed record TokenLogprob(string Token, float Logprob, IReadOnlyDictionary<string, float>? Top = null);
