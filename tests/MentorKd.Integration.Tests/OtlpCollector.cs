using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using MentorKd.Integration.Tests.Otlp.Metrics;
using MentorKd.Integration.Tests.Otlp.Traces;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MentorKd.Integration.Tests;

/// <summary>A span as the collector received it: the service that made it and its place in its trace.</summary>
public sealed record CollectedSpan(string Service, string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, string Scope,
    IReadOnlyDictionary<string, string> Attributes);

/// <summary>
/// An OTLP/gRPC collector on loopback for the services' exporters to send to (OTEL_EXPORTER_OTLP_ENDPOINT): it keeps
/// every span and the names of the metrics each service reported, so a test can follow a trace across processes.
/// </summary>
public sealed class OtlpCollector : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpCollector(WebApplication app, int port) => (_app, Endpoint) = (app, $"http://127.0.0.1:{port}");

    public string Endpoint { get; }
    public ConcurrentQueue<CollectedSpan> Spans { get; } = new();
    public ConcurrentDictionary<(string Service, string Metric), bool> Metrics { get; } = new();

    public static async Task<OtlpCollector> StartAsync()
    {
        int port = ServiceProcess.FreePort();
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddGrpc(options => options.MaxReceiveMessageSize = 64 << 20);
        OtlpCollector? collector = null;
        builder.Services.AddSingleton(_ => collector!);
        var app = builder.Build();
        app.MapGrpcService<TraceReceiver>();
        app.MapGrpcService<MetricsReceiver>();
        collector = new OtlpCollector(app, port);
        await app.StartAsync();
        return collector;
    }

    /// <summary>The span and its ancestors as far as they were received, the span first.</summary>
    public IReadOnlyList<CollectedSpan> Ancestry(CollectedSpan span)
    {
        var byId = Spans.GroupBy(s => s.SpanId).ToDictionary(g => g.Key, g => g.First());
        var chain = new List<CollectedSpan> { span };
        while (chain[^1].ParentSpanId.Length > 0 && byId.TryGetValue(chain[^1].ParentSpanId, out var parent) && chain.Count < 1000) chain.Add(parent);
        return chain;
    }

    private static string ServiceOf(Otlp.Resource? resource) =>
        resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";

    private static string Text(Otlp.AnyValue? value) =>
        value is null ? "" : value.ValueCase == Otlp.AnyValue.ValueOneofCase.StringValue ? value.StringValue : value.ToString();

    private sealed class TraceReceiver(OtlpCollector collector) : TraceService.TraceServiceBase
    {
        public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
        {
            foreach (var resource in request.ResourceSpans)
                foreach (var scope in resource.ScopeSpans)
                    foreach (var span in scope.Spans)
                        collector.Spans.Enqueue(new CollectedSpan(ServiceOf(resource.Resource), Convert.ToHexStringLower(span.TraceId.Span),
                            Convert.ToHexStringLower(span.SpanId.Span), Convert.ToHexStringLower(span.ParentSpanId.Span), span.Name, span.Kind, scope.Scope?.Name ?? "",
                            span.Attributes.GroupBy(a => a.Key).ToDictionary(g => g.Key, g => Text(g.First().Value))));
            return Task.FromResult(new ExportTraceServiceResponse());
        }
    }

    private sealed class MetricsReceiver(OtlpCollector collector) : MetricsService.MetricsServiceBase
    {
        public override Task<ExportMetricsServiceResponse> Export(ExportMetricsServiceRequest request, ServerCallContext context)
        {
            foreach (var resource in request.ResourceMetrics)
            {
                var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
                foreach (var scope in resource.ScopeMetrics)
                    foreach (var metric in scope.Metrics) collector.Metrics[(service, metric.Name)] = true;
            }
            return Task.FromResult(new ExportMetricsServiceResponse());
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
