using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace MentorKd.Integration.Tests;

/// <summary>
/// One service host as its own operating-system process (the built services/&lt;Name&gt; program), configured
/// through environment variables like a container would be. Its output is kept for the failure message.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServiceProcess(string name, int port, Process process)
    {
        Name = name;
        Port = port;
        _process = process;
    }

    public string Name { get; }
    public int Port { get; }
    public string Address => $"http://127.0.0.1:{Port}";
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <param name="project">Folder under services/, e.g. "Trainer".</param>
    /// <param name="name">This replica's name when a service runs more than once (default: the project).</param>
    public static Task<ServiceProcess> StartAsync(string project, IReadOnlyDictionary<string, string> settings, int port = 0, string? name = null)
    {
        port = port == 0 ? FreePort() : port;
        var program = Path.Combine(RepositoryRoot(), "services", project, "bin", BuildConfiguration(), "net10.0", $"MentorKd.{project}.dll");
        var environment = new Dictionary<string, string>(settings)
        {
            ["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{port}",
        };
        environment.TryAdd("Logging__LogLevel__Default", "Warning");
        return StartAsync(name ?? project, program, [], environment, port);
    }

    /// <summary>The <c>mentorkd</c> command line with <paramref name="arguments"/>, serving on <paramref name="port"/>.</summary>
    public static Task<ServiceProcess> StartCommandLineAsync(int port, params string[] arguments) =>
        StartAsync("mentorkd", Path.Combine(RepositoryRoot(), "src", "MentorKd.Cli", "bin", BuildConfiguration(), "net10.0", "mentorkd.dll"), arguments,
            new Dictionary<string, string>(), port);

    /// <summary>A one-shot <c>mentorkd</c> command: its exit code and what it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunCommandLineAsync(params string[] arguments)
    {
        var program = Path.Combine(RepositoryRoot(), "src", "MentorKd.Cli", "bin", BuildConfiguration(), "net10.0", "mentorkd.dll");
        var start = new ProcessStartInfo("dotnet", [program, .. arguments]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start mentorkd.");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        return (process.ExitCode, await output + await errors);
    }

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static async Task<ServiceProcess> StartAsync(string name, string program, string[] arguments, Dictionary<string, string> environment, int port)
    {
        if (!File.Exists(program)) throw new FileNotFoundException($"build the solution first: {program} is missing.");
        var start = new ProcessStartInfo("dotnet", [program, .. arguments])
        {
            WorkingDirectory = Path.GetDirectoryName(program)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {name}.");
        var service = new ServiceProcess(name, port, process);
        process.OutputDataReceived += (_, e) => service.Append(e.Data);
        process.ErrorDataReceived += (_, e) => service.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await service.WaitHealthyAsync(TimeSpan.FromSeconds(90));
        return service;
    }

    /// <summary>Asks the process to stop (SIGTERM, as docker stop or systemd would) and returns its exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()])) await kill!.WaitForExitAsync();
        await _process.WaitForExitAsync(new CancellationTokenSource(timeout).Token);
        return _process.ExitCode;
    }

    /// <summary>Kills the process at once, as a crash or an OOM kill would.</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    private async Task WaitHealthyAsync(TimeSpan timeout)
    {
        using var channel = GrpcChannel.ForAddress(Address);
        var health = new Health.HealthClient(channel);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode}:\n{Output}");
            try
            {
                var reply = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
                if (reply.Status == HealthCheckResponse.Types.ServingStatus.Serving) return;
            }
            catch (Grpc.Core.RpcException) when (DateTime.UtcNow < deadline) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{Name} did not become healthy in {timeout.TotalSeconds:F0}s:\n{Output}");
            await Task.Delay(250);
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    public static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "MentorKd.Platform.sln"))) return folder.FullName;
        throw new InvalidOperationException("MentorKd.Platform.sln not found above the test folder.");
    }

    // The services were built with the tests, in the same configuration (the folder above net10.0 says which).
    private static string BuildConfiguration() => new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

}
