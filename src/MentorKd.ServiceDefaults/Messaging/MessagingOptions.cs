using System.ComponentModel.DataAnnotations;

namespace MentorKd.ServiceDefaults.Messaging;

/// <summary>"Messaging" configuration section: which MassTransit transport carries the platform's events.</summary>
public sealed record MessagingOptions
{
    public const string InMemory = "in-memory", RabbitMq = "rabbitmq";

    /// <summary>"in-memory" (embedded: every service in one process) or "rabbitmq" (distributed).</summary>
    [Required, RegularExpression("^(in-memory|rabbitmq)$", ErrorMessage = "Messaging:Transport must be in-memory or rabbitmq.")]
    public string Transport { get; init; } = InMemory;

    public string Host { get; init; } = "localhost";
    [Range(1, 65535)] public int Port { get; init; } = 5672;
    public string VirtualHost { get; init; } = "/";
    public string Username { get; init; } = "guest";
    public string Password { get; init; } = "guest";
    public bool UseTls { get; init; }
    /// <summary>How long a service waits for the broker at start before stopping with an error.</summary>
    [Range(1, 3600)] public int StartupTimeoutSeconds { get; init; } = 60;
    /// <summary>How often the depth of each RabbitMQ work queue is read for the <c>mentorkd.queue.depth</c> gauge (only
    /// while metrics are exported).</summary>
    [Range(1, 3600)] public int QueueDepthSeconds { get; init; } = 10;
}
