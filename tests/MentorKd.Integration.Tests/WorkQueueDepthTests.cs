using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace MentorKd.Integration.Tests;

/// <summary>The work-queue depth gauge reads the broker's counts: messages waiting, and consumers taking.</summary>
[Collection(InfrastructureCollection.Name)]
public class WorkQueueDepthTests(Infrastructure infrastructure)
{
    [Fact]
    public async Task The_gauge_reports_the_messages_waiting_in_a_work_queue_and_its_consumers_as_the_broker_counts_them()
    {
        var queue = $"depth-probe-{Guid.NewGuid():N}";
        var options = Options.Create(new MessagingOptions
        {
            Transport = MessagingOptions.RabbitMq, Host = infrastructure.RabbitHost, Port = infrastructure.RabbitPort,
            Username = Infrastructure.RabbitUser, Password = Infrastructure.RabbitPassword,
        });
        using var depth = new WorkQueueDepth(options, NullLogger<WorkQueueDepth>.Instance);
        depth.Watch(queue);
        var seen = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == PlatformTelemetry.Name && instrument.Name.StartsWith("mentorkd.queue.")) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag is { Key: "queue", Value: string name } && name == queue) seen[instrument.Name] = value;
        });
        listener.Start();

        async Task<(long Messages, long Consumers)?> ReadAsync()
        {
            seen.Clear();
            await depth.SampleAsync(CancellationToken.None);
            listener.RecordObservableInstruments();
            return seen.TryGetValue("mentorkd.queue.depth", out var messages) ? (messages, seen["mentorkd.queue.consumers"]) : null;
        }

        // A queue the broker does not have yet is not reported (and does not break the next read).
        Assert.Null(await ReadAsync());

        var factory = new ConnectionFactory { HostName = infrastructure.RabbitHost, Port = infrastructure.RabbitPort, UserName = Infrastructure.RabbitUser, Password = Infrastructure.RabbitPassword };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false);
        try
        {
            for (int i = 0; i < 3; i++) await channel.BasicPublishAsync("", queue, new byte[] { (byte)i });
            Assert.Equal((3L, 0L), await WaitForAsync(ReadAsync, (3, 0)));

            // One taken and acknowledged; one delivered to a consumer that holds it unacknowledged: one still waits.
            Assert.NotNull(await channel.BasicGetAsync(queue, autoAck: true));
            await using var consumerChannel = await connection.CreateChannelAsync();
            await consumerChannel.BasicQosAsync(0, 1, false);
            var consumer = new AsyncEventingBasicConsumer(consumerChannel);
            consumer.ReceivedAsync += (_, _) => Task.CompletedTask;
            await consumerChannel.BasicConsumeAsync(queue, autoAck: false, consumer);
            Assert.Equal((1L, 1L), await WaitForAsync(ReadAsync, (1, 1)));
        }
        finally
        {
            await channel.QueueDeleteAsync(queue);
        }
    }

    /// <summary>The broker's counts settle a moment after a publish or a delivery: read until they match, for a few seconds.</summary>
    private static async Task<(long, long)?> WaitForAsync(Func<Task<(long Messages, long Consumers)?>> read, (long, long) expected)
    {
        (long, long)? last = null;
        for (var until = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < until; await Task.Delay(200))
            if ((last = await read()) == expected) break;
        return last;
    }
}
