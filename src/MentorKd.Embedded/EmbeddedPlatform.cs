using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Grpc.Net.Client;
using MentorKd.Augmentation.Extensions;
using MentorKd.Evaluator.Extensions;
using MentorKd.MentorServer.Extensions;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.ServiceDefaults.Security;
using MentorKd.TeacherGateway;
using MentorKd.TeacherGateway.Extensions;
using MentorKd.Trainer.Extensions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MentorKd.Embedded;

/// <summary>
/// The teacher-gateway, mentor-server, augmentation, trainer and evaluator services in one process, on one loopback
/// port: the same extension methods as their own hosts, configured for one machine (MassTransit's in-memory
/// transport, the filesystem store, every service's address pointing back at this process). Clients talk to it
/// through real gRPC channels, exactly as they would to the distributed platform.
/// </summary>
public sealed class EmbeddedPlatform : IAsyncDisposable
{
    private readonly WebApplication _app;

    /// <summary>The admin client the embedded platform's own user calls it as.</summary>
    public const string LocalClient = "local";

    private EmbeddedPlatform(WebApplication app, Uri address, Uri? openAiAddress, string apiKey)
    {
        _app = app;
        Address = address;
        OpenAiAddress = openAiAddress;
        ApiKey = apiKey;
        Channel = ChannelFor(apiKey);
    }

    public Uri Address { get; }
    /// <summary>The key of <see cref="LocalClient"/>.</summary>
    public string ApiKey { get; }
    /// <summary>The mentor-server's OpenAI-compatible API (base address of <c>/v1/...</c>), when asked for.</summary>
    public Uri? OpenAiAddress { get; }
    /// <summary>A channel to the platform as <see cref="LocalClient"/>.</summary>
    public GrpcChannel Channel { get; }
    public IServiceProvider Services => _app.Services;

    /// <summary>A channel to the platform presenting <paramref name="apiKey"/> (null: none).</summary>
    public GrpcChannel ChannelFor(string? apiKey) => KeyedChannel.ForAddress(Address.ToString(), apiKey);

    public static async Task<EmbeddedPlatform> StartAsync(EmbeddedPlatformOptions options, CancellationToken cancellationToken = default)
    {
        var root = Path.GetFullPath(options.DataRoot);
        Directory.CreateDirectory(root);
        int port = options.Port != 0 ? options.Port : FreeLoopbackPort();
        var address = new Uri($"http://127.0.0.1:{port}");
        int? openAiPort = options.OpenAiPort is 0 ? FreeLoopbackPort() : options.OpenAiPort;

        // The content root is the data folder, so no service's appsettings.json is picked up by accident.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = root, EnvironmentName = "Embedded", Args = [] });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2);
            if (openAiPort is { } http1) kestrel.Listen(IPAddress.Loopback, http1, listen => listen.Protocols = HttpProtocols.Http1);
        });
        builder.Logging.SetMinimumLevel(options.LogLevel);
        var apiKey = options.ApiKey ?? ApiKeys.New();
        builder.Configuration.AddInMemoryCollection(Settings(options, root, address));
        builder.Configuration.AddInMemoryCollection(AuthSettings(options, apiKey, address));
        builder.Configuration.AddInMemoryCollection(options.Settings);

        builder.AddServiceDefaults();
        builder.AddTeacherGateway();
        builder.Services.PostConfigure<TeacherGatewayOptions>(gateway =>
        {
            foreach (var (name, teacher) in options.Teachers) gateway.Teachers[name] = teacher;
        });
        builder.AddMentorServer();
        builder.AddAugmentation();
        builder.AddTrainer();
        builder.AddEvaluator();
        builder.AddMessaging(bus => bus.AddAugmentationMessaging(), bus => bus.AddTeacherGatewayMessaging(), bus => bus.AddTrainerMessaging(), bus => bus.AddEvaluatorMessaging());

        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapTeacherGateway();
        app.MapMentorServer();
        app.MapAugmentation();
        app.MapTrainer();
        app.MapEvaluator();
        await app.StartAsync(cancellationToken);
        return new EmbeddedPlatform(app, address, openAiPort is { } openAi ? new Uri($"http://127.0.0.1:{openAi}") : null, apiKey);
    }

    private static Dictionary<string, string?> Settings(EmbeddedPlatformOptions options, string root, Uri address)
    {
        string self = address.ToString().TrimEnd('/'), threads = options.Threads.ToString(CultureInfo.InvariantCulture);
        var settings = options.DataRoots.Select((folder, i) => KeyValuePair.Create($"Augmentation:Limits:DataRoots:{i}", (string?)folder));
        return new Dictionary<string, string?>(settings)
        {
            ["ObjectStore:Kind"] = "filesystem",
            ["ObjectStore:Root"] = Path.Combine(root, "objects"),
            ["Messaging:Transport"] = MessagingOptions.InMemory,
            ["TeacherGateway:Kind"] = options.TeacherKind,
            ["TeacherGateway:ErrorRate"] = options.TeacherErrorRate.ToString(CultureInfo.InvariantCulture),
            ["TeacherGateway:Seed"] = options.TeacherSeed.ToString(CultureInfo.InvariantCulture),
            ["TeacherGateway:ReplayFile"] = options.TeacherReplayFile,
            ["MentorServer:CacheRoot"] = Path.Combine(root, "mentor-server"),
            ["MentorServer:Device"] = options.Device,
            ["MentorServer:Threads"] = threads,
            ["Evaluator:CacheRoot"] = Path.Combine(root, "evaluator"),
            ["Evaluator:Device"] = options.Device,
            ["Evaluator:Threads"] = threads,
            ["Trainer:WorkRoot"] = Path.Combine(root, "trainer"),
            ["Trainer:Device"] = options.Device,
            ["Trainer:Threads"] = threads,
            ["Trainer:ConcurrentJobs"] = options.TrainerConcurrentJobs.ToString(CultureInfo.InvariantCulture),
            ["Trainer:FixedThreadShare"] = options.TrainerFixedThreadShare.ToString(CultureInfo.InvariantCulture),
            ["Augmentation:WorkRoot"] = Path.Combine(root, "augmentation"),
            ["Augmentation:MentorServerAddress"] = self,
        };
    }

    /// <summary>Keys as a deployment has them: the local admin client, the given clients, and a service key of this process's
    /// own for the services' calls to each other (and the trainer's to the mentor-server, which is this process).</summary>
    private static Dictionary<string, string?> AuthSettings(EmbeddedPlatformOptions options, string apiKey, Uri address)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Auth:Mode"] = AuthOptions.ApiKeys,
            [$"Auth:Clients:{LocalClient}:Key"] = apiKey,
            [$"Auth:Clients:{LocalClient}:Role"] = PlatformRoles.Admin,
            ["Auth:ServiceKey"] = ApiKeys.New(),
            ["Trainer:MentorServerAddresses:0"] = address.ToString().TrimEnd('/'),
        };
        foreach (var (name, client) in options.Clients)
        {
            settings[$"Auth:Clients:{name}:Key"] = client.Key;
            settings[$"Auth:Clients:{name}:KeyFile"] = client.KeyFile;
            settings[$"Auth:Clients:{name}:KeySha256"] = client.KeySha256;
            settings[$"Auth:Clients:{name}:Role"] = client.Role;
        }
        return settings;
    }

    // Chosen before Kestrel binds so the services' own clients can be pointed at it; the window for a clash is tiny.
    private static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
