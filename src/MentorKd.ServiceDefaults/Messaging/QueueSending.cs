using MassTransit;

namespace MentorKd.ServiceDefaults.Messaging;

/// <summary>Commands go to the queue of the service that does the work (its replicas share it), by name.</summary>
public static class QueueSending
{
    public static async Task SendToQueueAsync<T>(this ISendEndpointProvider bus, string queue, T command, CancellationToken cancellationToken) where T : class
    {
        var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{queue}"));
        await endpoint.Send(command, cancellationToken);
    }
}
