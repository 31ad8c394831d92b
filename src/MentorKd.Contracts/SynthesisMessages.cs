namespace MentorKd.Contracts;

// Problem synthesis on the broker (the teacher's side of feedback-driven distillation): questions and problems travel as
// object-store keys, never inline.

/// <summary>Write <c>PerQuestion</c> new problems from each stored question (JSONL): <c>Mode</c> "harder" (variations
/// needing more steps) or "similar" (same skills and difficulty, new content), each verified by the teacher and checked
/// against the questions stored at <c>HeldOutKeys</c> (dev and test). Accepted problems (question, the one it came from,
/// mode, rationale) are written whole as JSONL to <c>OutputKey</c>, rejected candidates with their reasons beside it. Sent
/// to the gateways' shared queue; the outcome is published as <see cref="ProblemsSynthesized"/> under the same id.</summary>
/// <param name="VerifySamples">Solutions an LLM teacher's problem needs in agreement (0: the teacher's own setting).</param>
public sealed record SynthesizeProblems(string SynthesisId, string QuestionsKey, string Mode, int PerQuestion, IReadOnlyList<string> HeldOutKeys,
    string OutputKey, string Teacher = "", int VerifySamples = 0)
{
    public const string Queue = "synthesize-problems";
}

/// <summary>A synthesis finished: <c>Accepted</c> problems are at <c>OutputKey</c>, <c>Rejected</c> candidates (with the
/// reason) at <c>RejectedKey</c>; or <c>Error</c> says why it failed. <c>Usage</c> is what the teacher's calls cost.</summary>
public sealed record ProblemsSynthesized(string SynthesisId, string OutputKey, string RejectedKey, int Questions, int Accepted, int Rejected,
    string Teacher, string Error, TeacherUsageTotals? Usage = null);
