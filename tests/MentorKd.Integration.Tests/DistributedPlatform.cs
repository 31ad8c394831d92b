using Grpc.Net.Client;

namespace MentorKd.Integration.Tests;

/// <summary>The five services as separate processes, each with its own broker connection and S3 client.</summary>
public sealed class DistributedPlatform : IAsyncDisposable
{
    private readonly Dictionary<string, ServiceProcess> _services;
    private readonly Infrastructure _infrastructure;
    private readonly string _workRoot;

    private readonly GrpcChannel _augmentation;

    private DistributedPlatform(Dictionary<string, ServiceProcess> services, Infrastructure infrastructure, string workRoot)
    {
        _services = services;
        _infrastructure = infrastructure;
        _workRoot = workRoot;
        _augmentation = GrpcChannel.ForAddress(services["Augmentation"].Address);
        Runs = new Protos.V1.Runs.RunsClient(_augmentation);
    }

    public ServiceProcess this[string project] => _services[project];
    /// <summary>The Runs API of the augmentation process, as a client team would call it.</summary>
    public Protos.V1.Runs.RunsClient Runs { get; }

    public static async Task<DistributedPlatform> StartAsync(Infrastructure infrastructure)
    {
        var workRoot = Path.Combine(Path.GetTempPath(), "mentorkd-it", Guid.NewGuid().ToString("N"));
        var started = await Task.WhenAll(new[] { "TeacherGateway", "MentorServer", "Trainer", "Evaluator" }
            .Select(project => ServiceProcess.StartAsync(project, Settings(project, infrastructure, workRoot, []))));
        var services = started.ToDictionary(s => s.Name);
        var addresses = new Dictionary<string, string>
        {
            ["Augmentation__TeacherGatewayAddress"] = services["TeacherGateway"].Address,
            ["Augmentation__MentorServerAddress"] = services["MentorServer"].Address,
            ["Augmentation__TrainerAddress"] = services["Trainer"].Address,
            ["Augmentation__EvaluatorAddress"] = services["Evaluator"].Address,
        };
        services["Augmentation"] = await ServiceProcess.StartAsync("Augmentation", Settings("Augmentation", infrastructure, workRoot, addresses));
        return new DistributedPlatform(services, infrastructure, workRoot);
    }

    /// <summary>Kills a service and starts it again on the same port with the same settings and local folders.</summary>
    public async Task RestartAsync(string project)
    {
        var old = _services[project];
        await old.KillAsync();
        _services[project] = await ServiceProcess.StartAsync(project, Settings(project, _infrastructure, _workRoot, []), old.Port);
        await old.DisposeAsync();
    }

    private static Dictionary<string, string> Settings(string project, Infrastructure infrastructure, string workRoot, Dictionary<string, string> extra)
    {
        var settings = infrastructure.ServiceSettings();
        var local = Path.Combine(workRoot, project.ToLowerInvariant());
        switch (project)
        {
            case "Trainer": settings["Trainer__WorkRoot"] = local; settings["Trainer__Threads"] = "2"; break;
            case "MentorServer": settings["MentorServer__CacheRoot"] = local; settings["MentorServer__Threads"] = "2"; break;
            case "Evaluator": settings["Evaluator__CacheRoot"] = local; settings["Evaluator__Threads"] = "2"; break;
            case "Augmentation": settings["Augmentation__WorkRoot"] = local; break;
            case "TeacherGateway": settings["TeacherGateway__Seed"] = "7"; break;
        }
        foreach (var (key, value) in extra) settings[key] = value;
        return settings;
    }

    public async ValueTask DisposeAsync()
    {
        _augmentation.Dispose();
        foreach (var service in _services.Values) await service.DisposeAsync();
    }
}
