using Grpc.Net.Client;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Security;
using MentorKd.Tests.Shared;
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

    /// <summary>A channel into this host presenting <paramref name="apiKey"/> (null: none).</summary>
    public GrpcChannel ChannelFor(string? apiKey)
    {
        var handler = _app.GetTestServer().CreateHandler();
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = apiKey is null ? handler : new ApiKeyHeaderHandler(apiKey, handler), DisposeHttpClient = true });
    }

    /// <summary>An HTTP handler into this host, for another host's gRPC client (which brings its own service key).</summary>
    public HttpMessageHandler CreateHandler() => _app.GetTestServer().CreateHandler();

    public static async Task<TestServiceHost> StartAsync(Action<WebApplicationBuilder> add, Action<WebApplication> map,
        IDictionary<string, string?>? settings = null, string? folder = null)
    {
        folder ??= Path.Combine(Path.GetTempPath(), "mentorkd-service-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder, EnvironmentName = "Testing" });
        builder.WebHost.UseTestServer();
        var app = Build(builder, folder, add, map, settings);
        await app.StartAsync();
        var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = new ApiKeyHeaderHandler(TestKeys.Admin, app.GetTestServer().CreateHandler()), DisposeHttpClient = true });
        return new TestServiceHost(app, channel, folder);
    }

    /// <summary>A service's wiring as its Program.cs does it, over a filesystem store in <paramref name="folder"/>, accepting
    /// the tests' admin key and service key (<see cref="TestKeys"/>).</summary>
    internal static WebApplication Build(WebApplicationBuilder builder, string folder, Action<WebApplicationBuilder> add, Action<WebApplication> map,
        IDictionary<string, string?>? settings, Action<WebApplication>? middleware = null)
    {
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ObjectStore:Kind"] = "filesystem",
            ["ObjectStore:Root"] = Path.Combine(folder, "objects"),
        });
        builder.Configuration.AddInMemoryCollection(TestKeys.Settings());
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        add(builder);
        var app = builder.Build();
        middleware?.Invoke(app);
        app.MapDefaultEndpoints();
        map(app);
        return app;
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
