using MassTransit;
using MentorKd.Contracts;

namespace MentorKd.Trainer.Jobs;

/// <summary>A run (or anyone on the bus) stops a training job, whichever replica holds it.</summary>
public sealed class CancelTrainingJobConsumer(TrainingJobCancellation cancellation) : IConsumer<CancelTrainingJob>
{
    public Task Consume(ConsumeContext<CancelTrainingJob> context) =>
        cancellation.CancelAsync(context.Message.JobId, context.Message.Reason, context.CancellationToken);
}

public sealed class CancelTrainingJobConsumerDefinition : ConsumerDefinition<CancelTrainingJobConsumer>
{
    public CancelTrainingJobConsumerDefinition() => EndpointName = CancelTrainingJob.Queue;
}
