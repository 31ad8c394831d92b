using MassTransit;
using MentorKd.Contracts;

namespace MentorKd.Augmentation.Runs;

/// <summary>Stops a run this process is working on. Cancelling twice is the same as once.</summary>
public sealed class RunCancellationConsumer(LiveRuns runs) : IConsumer<RunCancellationRequested>
{
    public Task Consume(ConsumeContext<RunCancellationRequested> context)
    {
        runs.Cancel(context.Message.CorrelationId);
        return Task.CompletedTask;
    }
}
