using Grpc.Core;
using MassTransit;
using MentorKd.Contracts;

namespace MentorKd.Evaluator;

/// <summary>Takes an evaluation from the evaluators' shared queue and publishes its report (without the per-example
/// rows, which are in the store) or why it failed. Evaluation is deterministic (greedy decoding), so a command
/// delivered twice publishes the same report again.</summary>
public sealed class EvaluateCheckpointConsumer(CheckpointEvaluation evaluation, ILogger<EvaluateCheckpointConsumer> logger) : IConsumer<EvaluateCheckpoint>
{
    public async Task Consume(ConsumeContext<EvaluateCheckpoint> context)
    {
        var id = context.Message.EvaluationId;
        CheckpointEvaluated outcome;
        try
        {
            var report = await evaluation.EvaluateAsync(context.Message.ReadRequest(), context.CancellationToken);
            report.Examples.Clear();
            outcome = CheckpointEvaluated.Succeeded(id, report);
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

/// <summary>One evaluation at a time per replica (each holds one model), none fetched ahead; store and broker
/// errors are retried.</summary>
public sealed class EvaluateCheckpointConsumerDefinition : ConsumerDefinition<EvaluateCheckpointConsumer>
{
    public EvaluateCheckpointConsumerDefinition()
    {
        EndpointName = EvaluateCheckpoint.Queue;
        ConcurrentMessageLimit = 1;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint, IConsumerConfigurator<EvaluateCheckpointConsumer> consumer, IRegistrationContext context)
    {
        endpoint.PrefetchCount = 1;
        endpoint.UseMessageRetry(retry => retry.Intervals(1_000, 5_000, 15_000));
    }
}
