using Grpc.Core;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.ServiceDefaults.Telemetry;

namespace MentorKd.Evaluator;

/// <summary>Takes an evaluation from the evaluators' shared queue and publishes its report (without the per-example
/// rows, which are in the store) or why it failed. Evaluation is deterministic (greedy decoding, or sampling from the
/// request's seed), so a command delivered twice publishes the same report again.</summary>
public sealed class EvaluateCheckpointConsumer(CheckpointEvaluation evaluation, ILogger<EvaluateCheckpointConsumer> logger) : IConsumer<EvaluateCheckpoint>
{
    public async Task Consume(ConsumeContext<EvaluateCheckpoint> context)
    {
        var id = context.Message.EvaluationId;
        using var work = PlatformWork.Start("evaluation", id, context.CancellationToken);
        CheckpointEvaluated outcome;
        try
        {
            var report = await evaluation.EvaluateAsync(context.Message.ReadRequest(), context.CancellationToken);
            report.Examples.Clear();
            outcome = CheckpointEvaluated.Succeeded(id, report);
            work.SetOutcome("completed");
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.InvalidArgument or StatusCode.NotFound)
        {
            // A bad request fails the same way however often it is tried.
            logger.LogWarning("Evaluation {Evaluation} refused: {Error}", id, e.Status.Detail);
            outcome = CheckpointEvaluated.Failed(id, $"{e.StatusCode}: {e.Status.Detail}");
        }
        await context.Publish(outcome, context.CancellationToken);
    }
}

/// <summary>The evaluators' shared queue: one evaluation at a time per replica (each holds one model).</summary>
public sealed class EvaluateCheckpointConsumerDefinition() : WorkQueueDefinition<EvaluateCheckpointConsumer>(EvaluateCheckpoint.Queue);
