using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace MentorKd.ServiceDefaults.Telemetry;

/// <summary>
/// OpenTelemetry for a service host: traces from ASP.NET Core (gRPC and HTTP served), HttpClient (gRPC and HTTP called),
/// MassTransit (messages sent, published and consumed, with the trace context in their headers) and the platform's own
/// work; metrics from the same plus .NET's runtime. Exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set
/// (with the other standard OTEL_* settings: protocol, headers, <c>OTEL_SERVICE_NAME</c>, metric interval); otherwise
/// nothing is registered, so no span is ever created and telemetry costs nothing.
/// </summary>
public static class TelemetryExtensions
{
    public const string EndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static IHostApplicationBuilder AddPlatformTelemetry(this IHostApplicationBuilder builder)
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration[EndpointSetting])) return builder;
        string service = builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : builder.Environment.ApplicationName;
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(service))
            .WithTracing(tracing => tracing
                // Grpc.Net.Client: the client span of each gRPC call, between the caller's span and HttpClient's (else the trace breaks there).
                .AddSource(PlatformTelemetry.Name, "MassTransit", "Grpc.Net.Client")
                // Probes every few seconds would drown the traces that matter.
                .AddAspNetCoreInstrumentation(options => options.Filter = http => !http.Request.Path.StartsWithSegments("/grpc.health.v1.Health"))
                .AddHttpClientInstrumentation())
            .WithMetrics(metrics => metrics
                .AddMeter(PlatformTelemetry.Name, "MassTransit")
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation())
            .UseOtlpExporter();
        return builder;
    }
}
