using System.Runtime.CompilerServices;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.ServiceDefaults;

namespace MentorKd.TeacherGateway;

/// <summary>Questions annotated by one of the gateway's teachers, with usage metered: the one path behind the gRPC
/// Annotate stream and the annotate-questions queue. Up to the teacher's <see cref="IGatewayTeacher.MaxConcurrentCalls"/>
/// questions are asked at once; results come back in question order. A question the teacher cannot answer fails the
/// request up front, naming it.</summary>
public sealed class QuestionAnnotation(TeacherDirectory teachers, TeacherUsage usage, ILogger<QuestionAnnotation> logger)
{
    public const int MaxRationalesPerQuestion = 64;

    public string TeacherName => teachers.Name;

    /// <summary>A named teacher's (or, for an empty name, the default teacher's) name as its rationales carry it, and
    /// the prompt template it asks with (empty for offline teachers).</summary>
    public (string Name, string Prompt) Describe(string teacher) =>
        teachers.Named.Contains(teacher) && teachers.For("", teacher, "teacher") is { } named ? (named.Name, named.PromptName) : (teachers.Name, teachers.DefaultPromptName);

    /// <param name="teacher">One of the gateway's named teachers, or empty for its default.</param>
    /// <param name="meter">Counts this request's usage (the gateway's per-teacher totals count it too).</param>
    public async IAsyncEnumerable<AnnotatedQuestion> AnnotateAsync(IReadOnlyList<Question> questions, int rationalesPerQuestion,
        string teacher, UsageMeter meter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        RpcErrors.Require(rationalesPerQuestion > 0, "rationales_per_question", $"must be positive (got {rationalesPerQuestion}).");
        RpcErrors.Require(rationalesPerQuestion <= MaxRationalesPerQuestion, "rationales_per_question", $"must be at most {MaxRationalesPerQuestion}.");
        var byQuestion = questions.Select((q, i) => (Question: q, Teacher: teachers.For(q.Task, teacher, "teacher"), Index: i)).ToList();
        foreach (var (question, chosen, index) in byQuestion)
            RpcErrors.Require(chosen is not null, $"questions[{index}].task", $"this gateway's teacher cannot answer '{question.Task}' (synthetic tasks: {string.Join(", ", SyntheticTasks.Names)}).");

        if (logger.IsEnabled(LogLevel.Information) && byQuestion.Count > 0)
            logger.LogInformation("Annotating {Count} questions × {K} with {Teacher}", questions.Count, rationalesPerQuestion, byQuestion[0].Teacher!.Name);
        var inFlight = new Queue<Task<AnnotatedQuestion>>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            foreach (var (question, chosen, _) in byQuestion)
            {
                if (inFlight.Count >= chosen!.MaxConcurrentCalls) yield return await inFlight.Dequeue();
                inFlight.Enqueue(AnnotateOneAsync(chosen, question, rationalesPerQuestion, usage.Meter(chosen.Name, meter), stop.Token));
            }
            while (inFlight.Count > 0) yield return await inFlight.Dequeue();
        }
        finally
        {
            // A failed or abandoned request leaves no calls running behind it.
            stop.Cancel();
            try { await Task.WhenAll(inFlight); } catch (Exception) when (stop.IsCancellationRequested) { }
        }
    }

    private static async Task<AnnotatedQuestion> AnnotateOneAsync(IGatewayTeacher teacher, Question question, int count, UsageMeter meter, CancellationToken cancellationToken)
    {
        await Task.Yield(); // start the next question's calls without waiting for this one's first
        var annotated = await teacher.AnnotateAsync(question, count, meter, cancellationToken);
        meter.RecordQuestion(annotated.Rationales.Count);
        return annotated;
    }
}
