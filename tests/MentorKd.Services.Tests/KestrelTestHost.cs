using System.Net;
using Grpc.Net.Client;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Security;
using MentorKd.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MentorKd.Services.Tests;

/// <summary>
/// A service host on real Kestrel loopback ports, for tests whose clients need a real address (an HTTP/1.1 client such
/// as an OpenAI client inside another service) or real transport behaviour: gRPC on an HTTP/2 port, everything else on an
/// HTTP/1.1 one. Counts the HTTP/1.1 requests it serves by path.
/// </summary>
internal sealed class KestrelTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Dictionary<string, int> _requests = new();

    private KestrelTestHost(WebApplication app, string folder)
    {
        _app = app;
        Folder = folder;
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        Channel = GrpcChannel.ForAddress(addresses[0], new GrpcChannelOptions { HttpHandler = new ApiKeyHeaderHandler(TestKeys.Admin, new SocketsHttpHandler()), DisposeHttpClient = true });
        HttpAddress = new Uri(addresses[1]);
    }

    public GrpcChannel Channel { get; }
    public Uri HttpAddress { get; }
    public string Folder { get; }
    public IServiceProvider Services => _app.Services;

    public int Requests(string path)
    {
        lock (_requests) return _requests.GetValueOrDefault(path);
    }

    public static async Task<KestrelTestHost> StartAsync(Action<WebApplicationBuilder> add, Action<WebApplication> map, IDictionary<string, string?>? settings = null)
    {
        var folder = Path.Combine(Path.GetTempPath(), "mentorkd-service-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder, EnvironmentName = "Testing" });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1);
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        KestrelTestHost? host = null;
        var app = TestServiceHost.Build(builder, folder, add, map, settings, middleware: web => web.Use(async (HttpContext context, RequestDelegate next) =>
        {
            if (context.Request.Protocol == "HTTP/1.1" && host is not null)
                lock (host._requests) host._requests[context.Request.Path] = host._requests.GetValueOrDefault(context.Request.Path) + 1;
            await next(context);
        }));
        await app.StartAsync();
        host = new KestrelTestHost(app, folder);
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
