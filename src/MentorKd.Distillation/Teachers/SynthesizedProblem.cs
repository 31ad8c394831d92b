using MentorKd.Distillation.Data;

namespace MentorKd.Distillation.Teachers;

/// <summary>What kind of new problem a teacher writes from an existing one (FDD): a harder variation of a problem the
/// student solved, or a similar problem (same skills and difficulty, new content) for one it did not.</summary>
public enum SynthesisMode { Harder, Similar }

/// <summary>A new problem a teacher wrote from <paramref name="DerivedFrom"/>, verified, with a rationale for it.</summary>
public sealed record SynthesizedProblem(Question Question, string DerivedFrom, SynthesisMode Mode, Rationale Rationale);

/// <summary>A candidate problem that was not accepted, and why (no problem in the reply, solutions disagree, a duplicate…).</summary>
public sealed record RejectedProblem(string DerivedFrom, SynthesisMode Mode, string Text, string Reason);

/// <summary>What a teacher made of one problem: the problems it accepted and the candidates it rejected.</summary>
public sealed record SynthesisOutcome(IReadOnlyList<SynthesizedProblem> Accepted, IReadOnlyList<RejectedProblem> Rejected)
{
    public static string IdOf(Question original, SynthesisMode mode, int index) => $"{original.Id}~{mode.ToString().ToLowerInvariant()}{index}";
}
