using Grpc.Core;
using MentorKd.Contracts;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using Microsoft.AspNetCore.Authorization;
using MentorKd.ServiceDefaults.Security;

namespace MentorKd.TeacherGateway.Grpc;

/// <summary>Annotates questions with the gateway's teachers, streaming each rationale (or failed sample) as it is
/// judged; reports usage since the gateway started, in total and per teacher.</summary>
public sealed class TeacherGatewayService(QuestionAnnotation annotation, QuestionSynthesis synthesis, TeacherUsage usage) : Protos.V1.TeacherGateway.TeacherGatewayBase
{
    [Authorize(Policy = PlatformRoles.Runner)]
    public override async Task Annotate(AnnotateRequest request, IServerStreamWriter<AnnotateResponse> responseStream, ServerCallContext context)
    {
        var questions = request.Questions.ToQuestions("questions");
        int done = 0;
        await foreach (var annotated in annotation.AnnotateAsync(questions, request.RationalesPerQuestion, request.Teacher, new UsageMeter(), context.CancellationToken))
        {
            done++;
            foreach (var rationale in annotated.Rationales)
                await responseStream.WriteAsync(new AnnotateResponse { Rationale = rationale.ToProto(), QuestionsDone = done }, context.CancellationToken);
            foreach (var failure in annotated.Failures)
                await responseStream.WriteAsync(new AnnotateResponse
                {
                    Failure = new Protos.V1.TeacherFailure { QuestionId = failure.QuestionId, Sample = failure.Sample, Reason = failure.Reason }, QuestionsDone = done,
                }, context.CancellationToken);
        }
    }

    [Authorize(Policy = PlatformRoles.Runner)]
    public override async Task Synthesize(SynthesizeRequest request, IServerStreamWriter<SynthesizeResponse> responseStream, ServerCallContext context)
    {
        var questions = request.Questions.ToQuestions("questions");
        var mode = request.Mode switch
        {
            Protos.V1.SynthesisMode.Harder => Distillation.Teachers.SynthesisMode.Harder,
            Protos.V1.SynthesisMode.Similar => Distillation.Teachers.SynthesisMode.Similar,
            _ => throw new RpcException(new Status(StatusCode.InvalidArgument, "mode: must be SYNTHESIS_MODE_HARDER or SYNTHESIS_MODE_SIMILAR.")),
        };
        int done = 0;
        await foreach (var outcome in synthesis.SynthesizeAsync(questions, mode, request.PerQuestion, request.Teacher, request.HeldOut, request.VerifySamples,
            new UsageMeter(), context.CancellationToken))
        {
            var response = new SynthesizeResponse { DerivedFrom = questions[done].Id, QuestionsDone = ++done };
            response.Accepted.AddRange(outcome.Accepted.Select(p => new Protos.V1.SynthesizedProblem { Question = p.Question.ToProto(), Rationale = p.Rationale.ToProto() }));
            response.Rejected.AddRange(outcome.Rejected.Select(r => new Protos.V1.RejectedProblem { Text = r.Text, Reason = r.Reason }));
            await responseStream.WriteAsync(response, context.CancellationToken);
        }
    }

    [Authorize(Policy = PlatformRoles.Reader)]
    public override Task<Usage> GetUsage(GetUsageRequest request, ServerCallContext context)
    {
        var total = ToProto(annotation.TeacherName, usage.Total());
        total.Teachers.AddRange(usage.ByTeacher().Select(p => ToProto(p.Key, p.Value)));
        return Task.FromResult(total);
    }

    private static Usage ToProto(string teacher, TeacherUsageTotals totals) => new()
    {
        Teacher = teacher, Requests = totals.Requests, Attempts = totals.Attempts, Questions = totals.Questions, Rationales = totals.Rationales,
        PromptTokens = totals.PromptTokens, CompletionTokens = totals.CompletionTokens, CacheHits = totals.CacheHits, Problems = totals.Problems,
        Failures = totals.Failures, Cost = totals.Cost,
    };
}
