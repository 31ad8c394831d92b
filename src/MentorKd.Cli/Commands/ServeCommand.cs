using System.CommandLine;
using System.Runtime.InteropServices;
using MentorKd.Embedded;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace MentorKd.Cli.Commands;

/// <summary>
/// <c>mentorkd serve</c>: the embedded platform (all five services in this process, one loopback port, the
/// filesystem store, the in-memory transport) as a long-running server, so a team integrates through gRPC clients
/// on one machine without Docker. Runs until Ctrl+C or SIGTERM; a run left unfinished continues when it is started again with its run id.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Folder for everything the platform stores.", DefaultValueFactory = _ => "platform-data" };
        var port = new Option<int>("--port") { Description = "Loopback port of all five services.", DefaultValueFactory = _ => 5100 };
        var errorRate = new Option<double>("--teacher-error-rate") { Description = "The simulated teacher's share of plausible mistakes.", DefaultValueFactory = _ => 0.15 };
        var seed = new Option<int>("--teacher-seed") { Description = "The simulated teacher's seed.", DefaultValueFactory = _ => 42 };
        var replay = new Option<string?>("--teacher-replay") { Description = "JSONL of recorded rationales: the teacher-gateway replays them instead of simulating." };
        var openAiPort = new Option<int?>("--openai-port") { Description = "Also serve the mentor-server's model over the OpenAI API (HTTP/1.1) on this loopback port (0: a free one)." };
        var logLevel = new Option<LogLevel>("--log-level") { Description = "Minimum level of the services' logs.", DefaultValueFactory = _ => LogLevel.Information };
        var apiKey = PlatformConnection.ApiKey();
        apiKey.Description = $"The admin key clients call the platform with (default: {PlatformConnection.ApiKeyVariable}; without either a new key is written to <data>/api-key).";
        var command = new Command("serve", "Serve the five services in this process on one port (filesystem store, in-memory transport) until stopped.")
            { data, port, openAiPort, errorRate, seed, replay, logLevel, apiKey, RuntimeOptions.Threads, RuntimeOptions.Device, RuntimeOptions.FixedThreadShare };
        command.SetAction(result => RuntimeOptions.Guarded(() =>
        {
            var replayFile = result.GetValue(replay);
            if (replayFile is not null && !File.Exists(replayFile)) throw new ArgumentException($"--teacher-replay: file '{replayFile}' not found.");
            var options = new EmbeddedPlatformOptions
            {
                DataRoot = result.GetValue(data)!, Port = result.GetValue(port), OpenAiPort = result.GetValue(openAiPort), TeacherErrorRate = result.GetValue(errorRate), TeacherSeed = result.GetValue(seed),
                TeacherKind = replayFile is null ? "simulated" : "replay", TeacherReplayFile = replayFile is null ? null : Path.GetFullPath(replayFile),
                Threads = result.GetValue(RuntimeOptions.Threads), Device = result.GetValue(RuntimeOptions.Device)!, LogLevel = result.GetValue(logLevel),
                ApiKey = result.GetValue(apiKey), TrainerFixedThreadShare = result.GetValue(RuntimeOptions.FixedThreadShare),
            };
            ServeAsync(options).GetAwaiter().GetResult();
            return 0;
        }));
        return command;
    }

    private static async Task ServeAsync(EmbeddedPlatformOptions options)
    {
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });

        await using var platform = await EmbeddedPlatform.StartAsync(options, stop.Token);
        AnsiConsole.MarkupLineInterpolated($"[bold]MentorKd platform[/] on {platform.Address} (data in {Path.GetFullPath(options.DataRoot)})");
        if (options.ApiKey is null)
        {
            // Only its owner may read it: the key is the platform's admin.
            var keyFile = Path.Combine(Path.GetFullPath(options.DataRoot), "api-key");
            File.Delete(keyFile); // created anew, so it is never readable by others even for a moment
            var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var writer = new StreamWriter(keyFile, create)) writer.Write(platform.ApiKey);
            AnsiConsole.MarkupLineInterpolated($"Clients authenticate with the admin API key in {keyFile} (export {PlatformConnection.ApiKeyVariable}=$(cat {keyFile})).");
        }
        else AnsiConsole.MarkupLine($"Clients authenticate with the API key given ({PlatformConnection.ApiKeyVariable} or --api-key).");
        AnsiConsole.MarkupLine("gRPC services: mentorkd.v1.Runs, Datasets, TeacherGateway, MentorServer, Trainer, Evaluator (reflection on). Ctrl+C stops.");
        if (platform.OpenAiAddress is { } openAi)
            AnsiConsole.MarkupLineInterpolated($"OpenAI-compatible API of the mentor-server's model: {openAi}v1 (load a checkpoint with MentorServer.LoadCheckpoint first)");
        try { await Task.Delay(Timeout.Infinite, stop.Token); }
        catch (OperationCanceledException) { }
        AnsiConsole.MarkupLine("stopping…");
    }
}
