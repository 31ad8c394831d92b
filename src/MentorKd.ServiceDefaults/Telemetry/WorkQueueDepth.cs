using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MentorKd.ServiceDefaults.Messaging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace MentorKd.ServiceDefaults.Telemetry;

/// <summary>
/// How many messages wait in each RabbitMQ work queue this host consumes (gauge <c>mentorkd.queue.depth</c>, by queue)
/// and how many consumers take from it (<c>mentorkd.queue.consumers</c>): the backlog a scaler or an operator acts on.
/// The broker is asked with a passive declare, which reads a queue's counts without creating or changing it, every
/// <see cref="MessagingOptions.QueueDepthSeconds"/> — and only while a metrics listener has the gauge enabled, so with
/// telemetry off no connection is ever opened. Work queues register themselves as their endpoints are configured
/// (<see cref="WorkQueueDefinition{TConsumer}"/>); the in-memory transport of the embedded host has no broker to ask.
/// </summary>
public sealed class WorkQueueDepth : BackgroundService
{
    private readonly ConcurrentDictionary<string, (uint Messages, uint Consumers)> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _queues = new(StringComparer.Ordinal);
    private readonly MessagingOptions _options;
    private readonly ILogger<WorkQueueDepth> _logger;
    private readonly Meter _meter = new(PlatformTelemetry.Name);
    private readonly ObservableGauge<long> _depth;
    private readonly ObservableGauge<long> _consumers;
    private IConnection? _connection;
    private IChannel? _channel;

    public WorkQueueDepth(IOptions<MessagingOptions> options, ILogger<WorkQueueDepth> logger)
    {
        (_options, _logger) = (options.Value, logger);
        _depth = _meter.CreateObservableGauge("mentorkd.queue.depth", () => Observe(c => c.Messages), "{message}",
            "Messages waiting in a work queue on the broker (ready, not yet delivered), by queue; every replica reports the " +
            "broker's one count, so aggregate replicas with max.");
        _consumers = _meter.CreateObservableGauge("mentorkd.queue.consumers", () => Observe(c => c.Consumers), "{consumer}",
            "Consumers taking from a work queue (about one per service replica), by queue.");
    }

    public IReadOnlyCollection<string> Queues => _queues.Keys.ToList();

    /// <summary>Counts this queue from now on.</summary>
    public void Watch(string queue) => _queues.TryAdd(queue, true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.QueueDepthSeconds));
        do
        {
            if ((_depth.Enabled || _consumers.Enabled) && !_queues.IsEmpty) await SampleAsync(stoppingToken);
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Reads every watched queue's counts from the broker once; a broker that is away is asked again next time.</summary>
    public async Task SampleAsync(CancellationToken cancellationToken)
    {
        foreach (var queue in _queues.Keys)
        {
            try
            {
                _channel ??= await OpenChannelAsync(cancellationToken);
                var declared = await _channel.QueueDeclarePassiveAsync(queue, cancellationToken);
                _counts[queue] = (declared.MessageCount, declared.ConsumerCount);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // A queue not declared yet closes the channel (404); a broker that is away closes the connection.
                _counts.TryRemove(queue, out _);
                _logger.LogDebug("Queue depth of {Queue} not read: {Error}", queue, e.Message);
                await CloseAsync();
                if (_connection is not null) continue;
                _counts.Clear(); // no broker: no counts to report, and the other queues are asked next time, not each in vain now
                break;
            }
        }
    }

    private IEnumerable<Measurement<long>> Observe(Func<(uint Messages, uint Consumers), uint> count) =>
        _counts.Select(p => new Measurement<long>(count(p.Value), new KeyValuePair<string, object?>("queue", p.Key)));

    private async Task<IChannel> OpenChannelAsync(CancellationToken cancellationToken)
    {
        if (_connection is not { IsOpen: true })
        {
            var factory = new ConnectionFactory
            {
                HostName = _options.Host, Port = _options.Port, VirtualHost = _options.VirtualHost,
                UserName = _options.Username, Password = _options.Password,
                Ssl = new SslOption { Enabled = _options.UseTls, ServerName = _options.Host },
            };
            _connection = await factory.CreateConnectionAsync("mentorkd-queue-depth", cancellationToken);
        }
        return await _connection.CreateChannelAsync(cancellationToken: cancellationToken);
    }

    /// <summary>Drops the channel, and the connection too when the broker closed it.</summary>
    private async Task CloseAsync()
    {
        var (channel, connection) = (_channel, _connection is { IsOpen: false } ? _connection : null);
        _channel = null;
        if (connection is not null) _connection = null;
        try
        {
            if (channel is not null) await channel.DisposeAsync();
            if (connection is not null) await connection.DisposeAsync();
        }
        catch (Exception e) { _logger.LogDebug("Closing the queue-depth channel: {Error}", e.Message); }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await CloseAsync();
        if (_connection is not null) await _connection.DisposeAsync();
        _connection = null;
    }

    public override void Dispose()
    {
        _meter.Dispose();
        base.Dispose();
    }
}
