using MassTransit;
using MentorKd.Contracts;

namespace MentorKd.Augmentation.Runs;

/// <summary>Starts the work of a submitted run. It only queues the run (the message is acknowledged at once; the run
/// takes minutes) and does so once per attempt however often the message is delivered.</summary>
public sealed class RunSubmittedConsumer(LiveRuns runs, ILogger<RunSubmittedConsumer> logger) : IConsumer<RunSubmitted>
{
    public Task Consume(ConsumeContext<RunSubmitted> context)
    {
        if (runs.TryBegin(context.Message.CorrelationId))
            logger.LogInformation("Run {Run} ({Name}) queued", context.Message.CorrelationId, context.Message.Name);
        else
            logger.LogInformation("Run {Run} is already being worked on here; duplicate RunSubmitted ignored", context.Message.CorrelationId);
        return Task.CompletedTask;
    }
}
