using MentorKd.Distillation.Data;

namespace MentorKd.Distillation.Teachers;

/// <summary>
/// Writes chain-of-thought rationales for questions. Implementations: recorded rationales (replay), a
/// simulated teacher for synthetic tasks, and (later) an LLM behind an API — all behind this one interface.
/// Rationales come back judged (<see cref="Rationale.Correct"/>); filtering is the caller's choice.
/// </summary>
public interface ITeacher
{
    /// <summary>Name recorded as each rationale's producer and shown in reports.</summary>
    string Name { get; }

    Task<IReadOnlyList<Rationale>> AnnotateAsync(Question question, int count, CancellationToken cancellationToken);
}
