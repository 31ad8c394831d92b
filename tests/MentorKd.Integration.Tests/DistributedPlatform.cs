using Grpc.Net.Client;
using MentorKd.ServiceDefaults.Security;
using MentorKd.Tests.Shared;

namespace MentorKd.Integration.Tests;

/// <summary>The five services as separate processes, each with its own broker connection and S3 client.</summary>
public sealed class DistributedPlatform : IAsyncDisposable
{
    private readonly Dictionary<string, ServiceProcess> _services;
    private readonly Infrastructure _infrastructure;
    private readonly string _workRoot;

    private readonly GrpcChannel _augmentation;

    private readonly Dictionary<string, string> _augmentationAddresses;

    private DistributedPlatform(Dictionary<string, ServiceProcess> services, Infrastructure infrastructure, string workRoot, Dictionary<string, string> augmentationAddresses)
    {
        _augmentationAddresses = augmentationAddresses;
        _services = services;
        _infrastructure = infrastructure;
        _workRoot = workRoot;
        _augmentation = GrpcChannel.ForAddress(services["Augmentation"].Address,
            new GrpcChannelOptions { HttpHandler = new ApiKeyHeaderHandler(TestKeys.Admin, new SocketsHttpHandler()), DisposeHttpClient = true });
        Runs = new Protos.V1.Runs.RunsClient(_augmentation);
    }

    /// <summary>A service by name: its project ("Trainer"), or "Trainer-2", … for further trainer replicas.</summary>
    public ServiceProcess this[string name] => _services[name];
    /// <summary>The trainer replicas, sharing one queue.</summary>
    public IReadOnlyList<ServiceProcess> Trainers => _services.Values.Where(s => s.Name.StartsWith("Trainer")).ToList();
    /// <summary>The Runs API of the augmentation process, as a client team would call it.</summary>
    public Protos.V1.Runs.RunsClient Runs { get; }

    /// <param name="telemetry">An OTLP endpoint every service exports its traces and metrics to (each under its name in lower case).</param>
    /// <param name="s3Endpoint">host:port the services reach the S3 server at (a proxy in front of it); by default, the server itself.</param>
    public static async Task<DistributedPlatform> StartAsync(Infrastructure infrastructure, int trainers = 1, string? telemetry = null, string? s3Endpoint = null)
    {
        var workRoot = Path.Combine(Path.GetTempPath(), "mentorkd-it", Guid.NewGuid().ToString("N"));
        var names = new[] { "TeacherGateway", "MentorServer", "Evaluator" }.Concat(Enumerable.Range(1, trainers).Select(i => i == 1 ? "Trainer" : $"Trainer-{i}"));
        // The mentor-server's port is chosen first: the trainers send the service key only to the mentor-server they are told of.
        int mentorPort = ServiceProcess.FreePort();
        var mentorServer = $"http://127.0.0.1:{mentorPort}";
        var shared = new Dictionary<string, string> { ["Trainer__MentorServerAddresses__0"] = mentorServer };
        if (s3Endpoint is not null) shared["ObjectStore__Endpoint"] = s3Endpoint;
        if (telemetry is not null)
        {
            shared["OTEL_EXPORTER_OTLP_ENDPOINT"] = telemetry;
            shared["OTEL_METRIC_EXPORT_INTERVAL"] = "1000"; // ms: the test waits for them
            shared["OTEL_BSP_SCHEDULE_DELAY"] = "500";
        }
        var started = await Task.WhenAll(names.Select(name => ServiceProcess.StartAsync(Project(name),
            Settings(name, infrastructure, workRoot, shared), name == "MentorServer" ? mentorPort : 0, name)));
        var services = started.ToDictionary(s => s.Name);
        var addresses = new Dictionary<string, string>(shared)
        {
            ["Augmentation__MentorServerAddress"] = services["MentorServer"].Address,
        };
        services["Augmentation"] = await ServiceProcess.StartAsync("Augmentation", Settings("Augmentation", infrastructure, workRoot, addresses));
        return new DistributedPlatform(services, infrastructure, workRoot, addresses);
    }

    /// <summary>Kills a service and starts it again on the same port with the same settings and local folders.</summary>
    public async Task RestartAsync(string name)
    {
        var old = _services[name];
        await old.KillAsync();
        var extra = _augmentationAddresses; // the settings every service got, and the augmentation's addresses
        _services[name] = await ServiceProcess.StartAsync(Project(name), Settings(name, _infrastructure, _workRoot, extra), old.Port, name);
        await old.DisposeAsync();
    }

    private static string Project(string name) => name.Split('-')[0];

    private static Dictionary<string, string> Settings(string name, Infrastructure infrastructure, string workRoot, Dictionary<string, string> extra)
    {
        var settings = infrastructure.ServiceSettings();
        foreach (var (key, value) in TestKeys.Settings()) settings[key.Replace(":", "__")] = value!;
        var local = Path.Combine(workRoot, name.ToLowerInvariant());
        switch (Project(name))
        {
            case "Trainer":
                settings["Trainer__WorkRoot"] = local;
                settings["Trainer__Threads"] = "2";
                settings["Trainer__LeaseSeconds"] = "6"; // a dead replica's job is taken over after 6 s
                settings["Logging__LogLevel__MentorKd.Trainer.Jobs"] = "Information"; // which replica trains which job
                break;
            case "MentorServer": settings["MentorServer__CacheRoot"] = local; settings["MentorServer__Threads"] = "2"; break;
            case "Evaluator": settings["Evaluator__CacheRoot"] = local; settings["Evaluator__Threads"] = "2"; break;
            case "Augmentation":
                settings["Augmentation__WorkRoot"] = local;
                settings["Logging__LogLevel__MentorKd.Augmentation.Runs.UnfinishedRunsRecovery"] = "Information"; // which runs a restart carried on
                break;
            case "TeacherGateway": settings["TeacherGateway__Seed"] = "7"; break;
        }
        foreach (var (key, value) in extra) settings[key] = value;
        if (settings.ContainsKey("OTEL_EXPORTER_OTLP_ENDPOINT")) settings["OTEL_SERVICE_NAME"] = name.ToLowerInvariant();
        return settings;
    }

    public async ValueTask DisposeAsync()
    {
        _augmentation.Dispose();
        foreach (var service in _services.Values) await service.DisposeAsync();
    }
}
