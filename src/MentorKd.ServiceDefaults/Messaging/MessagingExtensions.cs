using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MentorKd.ServiceDefaults.Telemetry;

namespace MentorKd.ServiceDefaults.Messaging;

/// <summary>MassTransit for a host: the transport from the "Messaging" section, the consumers and sagas the host's
/// services bring. Called once per host (MassTransit allows one bus per container), which is why services hand in
/// their registrations instead of calling AddMassTransit themselves: the embedded host combines all of them.</summary>
public static class MessagingExtensions
{
    public static IHostApplicationBuilder AddMessaging(this IHostApplicationBuilder builder, params Action<IBusRegistrationConfigurator>[] registrations)
    {
        builder.Services.AddValidatedOptions<MessagingOptions>("Messaging");
        // The transport decides how the bus is built, so it is read now; its settings are read when the bus starts.
        var transport = builder.Configuration.GetValue<string>("Messaging:Transport") ?? MessagingOptions.InMemory;
        if (transport == MessagingOptions.RabbitMq)
        {
            // The work queues' backlog as a metric: the queues register as their endpoints are configured.
            builder.Services.AddSingleton<WorkQueueDepth>();
            builder.Services.AddHostedService(services => services.GetRequiredService<WorkQueueDepth>());
        }
        builder.Services.AddMassTransit(bus =>
        {
            bus.SetKebabCaseEndpointNameFormatter();
            bus.DisableUsageTelemetry(); // it would phone home to masstransit.io
            foreach (var register in registrations) register(bus);
            if (transport == MessagingOptions.RabbitMq)
                bus.UsingRabbitMq((context, rabbit) =>
                {
                    var options = context.GetRequiredService<IOptions<MessagingOptions>>().Value;
                    rabbit.Host(options.Host, (ushort)options.Port, options.VirtualHost, host =>
                    {
                        host.Username(options.Username);
                        host.Password(options.Password);
                        if (options.UseTls) host.UseSsl(ssl => ssl.ServerName = options.Host);
                    });
                    rabbit.ConfigureEndpoints(context);
                });
            else
                bus.UsingInMemory((context, memory) => memory.ConfigureEndpoints(context));
        });
        // Start only once the bus is connected: an unreachable or misconfigured broker stops the host with its error.
        builder.Services.AddOptions<MassTransitHostOptions>().Configure<IOptions<MessagingOptions>>((host, messaging) =>
        {
            host.WaitUntilStarted = true;
            host.StartTimeout = TimeSpan.FromSeconds(messaging.Value.StartupTimeoutSeconds);
            host.StopTimeout = TimeSpan.FromSeconds(30);
            // A consumer still busy when the host stops (a training slice) is cancelled soon: its work resumes from
            // the last checkpoint once its message is redelivered.
            host.ConsumerStopTimeout = TimeSpan.FromSeconds(2);
        });
        return builder;
    }
}
