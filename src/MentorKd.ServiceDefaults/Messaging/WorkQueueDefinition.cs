using MassTransit;
using MentorKd.ServiceDefaults.Telemetry;

namespace MentorKd.ServiceDefaults.Messaging;

/// <summary>
/// A service's work queue, shared by its replicas: one message at a time per replica (or as many as it works on at
/// once) and none fetched ahead, so work goes to whichever replica is free; store and broker errors are retried with
/// backoff, and what still fails comes back to the sender as MassTransit's <c>Fault&lt;T&gt;</c>. On RabbitMQ its depth is a
/// metric (<see cref="WorkQueueDepth"/>).
/// </summary>
public abstract class WorkQueueDefinition<TConsumer> : ConsumerDefinition<TConsumer> where TConsumer : class, IConsumer
{
    private readonly int _concurrentMessages;
    private readonly string _queue;

    protected WorkQueueDefinition(string queue, int concurrentMessages = 1)
    {
        EndpointName = _queue = queue;
        ConcurrentMessageLimit = _concurrentMessages = concurrentMessages;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint, IConsumerConfigurator<TConsumer> consumer, IRegistrationContext context)
    {
        endpoint.PrefetchCount = _concurrentMessages;
        endpoint.UseMessageRetry(retry => retry.Intervals(1_000, 5_000, 15_000, 30_000));
        (context.GetService(typeof(WorkQueueDepth)) as WorkQueueDepth)?.Watch(_queue);
    }
}
