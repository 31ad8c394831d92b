using Google.Protobuf;
using MentorKd.Protos.V1;

namespace MentorKd.Contracts;

// Evaluation work on the broker. The request and the report are the gRPC contract's messages, carried as protobuf
// bytes and read back typed.

/// <summary>Evaluate a stored checkpoint on a stored question set. Sent to the evaluators' shared queue; the
/// outcome is published as <see cref="CheckpointEvaluated"/> under the same <c>EvaluationId</c>.</summary>
public sealed record EvaluateCheckpoint(string EvaluationId, byte[] Request)
{
    public const string Queue = "evaluate-checkpoint";

    public static EvaluateCheckpoint For(string evaluationId, EvaluateRequest request) => new(evaluationId, request.ToByteArray());

    public EvaluateRequest ReadRequest() => EvaluateRequest.Parser.ParseFrom(Request);
}

/// <summary>An evaluation finished: its report (accuracy and the stored per-example JSONL; the examples themselves
/// stay in the store), or why it failed.</summary>
public sealed record CheckpointEvaluated(string EvaluationId, byte[] Report, string Error)
{
    public static CheckpointEvaluated Succeeded(string evaluationId, EvaluationReport report) => new(evaluationId, report.ToByteArray(), "");

    public static CheckpointEvaluated Failed(string evaluationId, string error) => new(evaluationId, [], error);

    public EvaluationReport ReadReport() => EvaluationReport.Parser.ParseFrom(Report);
}
