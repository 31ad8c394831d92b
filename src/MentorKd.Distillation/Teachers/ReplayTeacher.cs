using MentorKd.Distillation.Data;

namespace MentorKd.Distillation.Teachers;

/// <summary>
/// Hands back rationales recorded earlier (the Mentor-KD files, or our JSONL), in file order, up to the number
/// asked for. Questions with no recording get none — exactly like a teacher whose outputs were all filtered.
/// </summary>
public sealed class ReplayTeacher : ITeacher
{
    private readonly ILookup<string, Rationale> _byQuestion;

    public ReplayTeacher(IEnumerable<Rationale> recorded, string name)
    {
        _byQuestion = recorded.ToLookup(r => r.QuestionId);
        Name = name;
    }

    public string Name { get; }

    public Task<IReadOnlyList<Rationale>> AnnotateAsync(Question question, int count, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<Rationale>>(_byQuestion[question.Id].Take(count).ToList());
}
