using Grpc.Core;
using MentorKd.Protos.V1;
using Microsoft.AspNetCore.Authorization;
using MentorKd.ServiceDefaults.Security;

namespace MentorKd.Evaluator.Grpc;

/// <summary>Evaluates a stored checkpoint on a stored question set; optionally writes the per-example JSONL.</summary>
public sealed class EvaluatorService(CheckpointEvaluation evaluation) : Protos.V1.Evaluator.EvaluatorBase
{
    [Authorize(Policy = PlatformRoles.Runner)]
    public override Task<EvaluationReport> Evaluate(EvaluateRequest request, ServerCallContext context)
    {
        if (request.ReportKey.Length > 0) context.Caller().RequireWritableBy(request.ReportKey, "report_key");
        return evaluation.EvaluateAsync(request, context.CancellationToken);
    }
}
