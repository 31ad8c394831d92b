using Grpc.Core;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;

namespace MentorKd.TeacherGateway.Grpc;

/// <summary>Annotates questions with the configured teacher, streaming each rationale as it is written.</summary>
public sealed class TeacherGatewayService(QuestionAnnotation annotation, TeacherUsage usage) : Protos.V1.TeacherGateway.TeacherGatewayBase
{
    public override async Task Annotate(AnnotateRequest request, IServerStreamWriter<AnnotateResponse> responseStream, ServerCallContext context)
    {
        var questions = request.Questions.ToQuestions("questions");
        int done = 0;
        await foreach (var (_, rationales) in annotation.AnnotateAsync(questions, request.RationalesPerQuestion, request.Teacher, context.CancellationToken))
        {
            done++;
            foreach (var rationale in rationales)
                await responseStream.WriteAsync(new AnnotateResponse { Rationale = rationale.ToProto(), QuestionsDone = done }, context.CancellationToken);
        }
    }

    public override Task<Usage> GetUsage(GetUsageRequest request, ServerCallContext context)
    {
        var totals = usage.Snapshot();
        return Task.FromResult(new Usage
        {
            Teacher = annotation.TeacherName, Requests = totals.Requests, Questions = totals.Questions, Rationales = totals.Rationales,
            PromptTokens = totals.PromptTokens, CompletionTokens = totals.CompletionTokens, CacheHits = totals.CacheHits, Problems = totals.Problems,
        });
    }
}
