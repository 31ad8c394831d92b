using Grpc.Net.Client;
using MentorKd.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace MentorKd.Services.Tests;

/// <summary>
/// A service host built with the same wiring as its Program.cs, on ASP.NET's in-memory test server, with a real
/// gRPC channel to it. Each host gets its own folder (content root, object store, caches).
/// </summary>
internal sealed class TestServiceHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestServiceHost(WebApplication app, GrpcChannel channel, string folder)
    {
        _app = app;
        Channel = channel;
        Folder = folder;
    }

    public GrpcChannel Channel { get; }
    public string Folder { get; }
    public IServiceProvider Services => _app.Services;

    /// <summary>An HTTP handler into this host, for another host's gRPC client.</summary>
    public HttpMessageHandler CreateHandler() => _app.GetTestServer().CreateHandler();

    public static async Task<TestServiceHost> StartAsync(Action<WebApplicationBuilder> add, Action<WebApplication> map,
        IDictionary<string, string?>? settings = null, string? folder = null)
    {
        folder ??= Path.Combine(Path.GetTempPath(), "mentorkd-service-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder, EnvironmentName = "Testing" });
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ObjectStore:Kind"] = "filesystem",
            ["ObjectStore:Root"] = Path.Combine(folder, "objects"),
        });
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        add(builder);
        var app = builder.Build();
        app.MapDefaultEndpoints();
        map(app);
        await app.StartAsync();
        var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = app.GetTestServer().CreateHandler() });
        return new TestServiceHost(app, channel, folder);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
