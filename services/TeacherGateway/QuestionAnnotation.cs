using System.Runtime.CompilerServices;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.ServiceDefaults;

namespace MentorKd.TeacherGateway;

/// <summary>Questions annotated by the gateway's teacher, one question at a time, with usage recorded: the one path
/// behind the gRPC Annotate stream and the annotate-questions queue. A question the teacher cannot answer fails the
/// request up front, naming it.</summary>
public sealed class QuestionAnnotation(TeacherDirectory teachers, TeacherUsage usage, ILogger<QuestionAnnotation> logger)
{
    public const int MaxRationalesPerQuestion = 64;

    public string TeacherName => teachers.Name;

    public async IAsyncEnumerable<(Question Question, IReadOnlyList<Rationale> Rationales)> AnnotateAsync(IReadOnlyList<Question> questions, int rationalesPerQuestion,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        RpcErrors.Require(rationalesPerQuestion > 0, "rationales_per_question", $"must be positive (got {rationalesPerQuestion}).");
        RpcErrors.Require(rationalesPerQuestion <= MaxRationalesPerQuestion, "rationales_per_question", $"must be at most {MaxRationalesPerQuestion}.");
        var byQuestion = questions.Select((q, i) => (Question: q, Teacher: teachers.For(q.Task), Index: i)).ToList();
        foreach (var (question, teacher, index) in byQuestion)
            RpcErrors.Require(teacher is not null, $"questions[{index}].task", $"this gateway's teacher cannot answer '{question.Task}' (synthetic tasks: {string.Join(", ", SyntheticTasks.Names)}).");

        if (logger.IsEnabled(LogLevel.Information))
            logger.LogInformation("Annotating {Count} questions × {K} with {Teacher}", questions.Count, rationalesPerQuestion, teachers.Name);
        foreach (var (question, teacher, _) in byQuestion)
        {
            var rationales = await teacher!.AnnotateAsync(question, rationalesPerQuestion, cancellationToken);
            usage.Record(1, [question.Text], rationales.Select(r => r.Text));
            yield return (question, rationales);
        }
    }
}
