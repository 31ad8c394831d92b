using Grpc.Core;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.ModelServing;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;

namespace MentorKd.TeacherGateway.Grpc;

/// <summary>Annotates questions with the configured teacher, streaming each rationale as it is written.</summary>
public sealed class TeacherGatewayService(TeacherDirectory teachers, TeacherUsage usage, ILogger<TeacherGatewayService> logger) : Protos.V1.TeacherGateway.TeacherGatewayBase
{
    public const int MaxRationalesPerQuestion = 64;

    public override async Task Annotate(AnnotateRequest request, IServerStreamWriter<AnnotateResponse> responseStream, ServerCallContext context)
    {
        RpcErrors.Require(request.RationalesPerQuestion > 0, "rationales_per_question", $"must be positive (got {request.RationalesPerQuestion}).");
        RpcErrors.Require(request.RationalesPerQuestion <= MaxRationalesPerQuestion, "rationales_per_question", $"must be at most {MaxRationalesPerQuestion}.");
        var questions = request.Questions.ToQuestions("questions");
        var byQuestion = questions.Select((q, i) => (Question: q, Teacher: teachers.For(q.Task), Index: i)).ToList();
        foreach (var (question, teacher, index) in byQuestion)
            RpcErrors.Require(teacher is not null, $"questions[{index}].task", $"this gateway's teacher cannot answer '{question.Task}' (synthetic tasks: {string.Join(", ", SyntheticTasks.Names)}).");

        if (logger.IsEnabled(LogLevel.Information))
            logger.LogInformation("Annotating {Count} questions × {K} with {Teacher}", questions.Count, request.RationalesPerQuestion, teachers.Name);
        int done = 0;
        foreach (var (question, teacher, _) in byQuestion)
        {
            var rationales = await teacher!.AnnotateAsync(question, request.RationalesPerQuestion, context.CancellationToken);
            usage.Record(1, [question.Text], rationales.Select(r => r.Text));
            done++;
            foreach (var rationale in rationales)
                await responseStream.WriteAsync(new AnnotateResponse { Rationale = rationale.ToProto(), QuestionsDone = done }, context.CancellationToken);
        }
    }

    public override Task<Usage> GetUsage(GetUsageRequest request, ServerCallContext context)
    {
        var (requests, questions, rationales, promptTokens, completionTokens) = usage.Snapshot();
        return Task.FromResult(new Usage
        {
            Teacher = teachers.Name, Requests = requests, Questions = questions, Rationales = rationales,
            PromptTokens = promptTokens, CompletionTokens = completionTokens,
        });
    }
}
