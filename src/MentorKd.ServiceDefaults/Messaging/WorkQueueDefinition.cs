using MassTransit;

namespace MentorKd.ServiceDefaults.Messaging;

/// <summary>
/// A service's work queue, shared by its replicas: one message at a time per replica and none fetched ahead, so work
/// goes to whichever replica is free; store and broker errors are retried with backoff, and what still fails comes
/// back to the sender as MassTransit's <c>Fault&lt;T&gt;</c>.
/// </summary>
public abstract class WorkQueueDefinition<TConsumer> : ConsumerDefinition<TConsumer> where TConsumer : class, IConsumer
{
    protected WorkQueueDefinition(string queue)
    {
        EndpointName = queue;
        ConcurrentMessageLimit = 1;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint, IConsumerConfigurator<TConsumer> consumer, IRegistrationContext context)
    {
        endpoint.PrefetchCount = 1;
        endpoint.UseMessageRetry(retry => retry.Intervals(1_000, 5_000, 15_000, 30_000));
    }
}
