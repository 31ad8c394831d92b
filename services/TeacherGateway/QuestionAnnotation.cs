using System.Runtime.CompilerServices;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.ServiceDefaults;
using MentorKd.TeacherGateway.OpenAi;

namespace MentorKd.TeacherGateway;

/// <summary>Questions annotated by one of the gateway's teachers, one question at a time, with usage recorded: the one
/// path behind the gRPC Annotate stream and the annotate-questions queue. A question the teacher cannot answer fails the
/// request up front, naming it.</summary>
public sealed class QuestionAnnotation(TeacherDirectory teachers, TeacherUsage usage, ILogger<QuestionAnnotation> logger)
{
    public const int MaxRationalesPerQuestion = 64;

    public string TeacherName => teachers.Name;

    /// <param name="teacher">One of the gateway's named teachers, or empty for its default.</param>
    public async IAsyncEnumerable<(Question Question, IReadOnlyList<Rationale> Rationales)> AnnotateAsync(IReadOnlyList<Question> questions, int rationalesPerQuestion,
        string teacher, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        RpcErrors.Require(rationalesPerQuestion > 0, "rationales_per_question", $"must be positive (got {rationalesPerQuestion}).");
        RpcErrors.Require(rationalesPerQuestion <= MaxRationalesPerQuestion, "rationales_per_question", $"must be at most {MaxRationalesPerQuestion}.");
        var byQuestion = questions.Select((q, i) => (Question: q, Teacher: teachers.For(q.Task, teacher, "teacher"), Index: i)).ToList();
        foreach (var (question, chosen, index) in byQuestion)
            RpcErrors.Require(chosen is not null, $"questions[{index}].task", $"this gateway's teacher cannot answer '{question.Task}' (synthetic tasks: {string.Join(", ", SyntheticTasks.Names)}).");

        if (logger.IsEnabled(LogLevel.Information) && byQuestion.Count > 0)
            logger.LogInformation("Annotating {Count} questions × {K} with {Teacher}", questions.Count, rationalesPerQuestion, byQuestion[0].Teacher!.Name);
        foreach (var (question, chosen, _) in byQuestion)
        {
            var rationales = await chosen!.AnnotateAsync(question, rationalesPerQuestion, cancellationToken);
            usage.RecordQuestion(rationales.Count);
            // LLM teachers count their calls with the API's own token counts; offline ones have no tokenizer.
            if (chosen is not OpenAiTeacher) usage.RecordOffline(question.Text, rationales.Select(r => r.Text));
            yield return (question, rationales);
        }
    }
}
