using System.CommandLine;
using Grpc.Core;
using Grpc.Net.Client;
using MentorKd.Distillation.Pipeline;
using MentorKd.Embedded;
using MentorKd.Protos.V1;
using Spectre.Console;

namespace MentorKd.Cli.Commands;

/// <summary>
/// <c>mentorkd submit</c>: a run on a running platform (docker-compose, or separate hosts), through the augmentation
/// service's Runs API: start it, follow its events, print the students' accuracies. Exit 0 only when it completed.
/// </summary>
internal static class SubmitCommand
{
    public static Command Create()
    {
        var address = new Option<string>("--address") { Description = "The augmentation service.", DefaultValueFactory = _ => "http://localhost:5103" };
        var configPath = new Option<string?>("--config") { Description = "Run config (JSON). Default: the built-in configs/mentor-kd.default.json." };
        var runId = new Option<string?>("--run-id") { Description = "Continue (or re-attach to) this run instead of starting a new one." };
        var apiKey = PlatformConnection.ApiKey();
        var command = new Command("submit", "Run Mentor-KD on a running platform through its Runs API and print the result.") { address, configPath, runId, apiKey };
        command.SetAction(result => RuntimeOptions.Guarded(() =>
        {
            var config = result.GetValue(configPath) is { } path ? RunConfig.Load(path) : RunCommand.DefaultConfig();
            RunConfigValidator.Validate(config);
            var id = result.GetValue(runId) is { } given ? Guid.Parse(given) : Guid.NewGuid();
            using var channel = PlatformConnection.Open(result.GetValue(address)!, result.GetValue(apiKey));
            var runs = new Protos.V1.Runs.RunsClient(channel);
            AnsiConsole.MarkupLineInterpolated($"[bold]Mentor-KD run[/] '{config.Name}' as {id} on {result.GetValue(address)}");
            try
            {
                var bridge = new RunEventObserverBridge(new LineProgressObserver());
                var run = RunSession.RunAsync(runs, id, config, bridge.On).GetAwaiter().GetResult();
                if (run.Status != RunStatus.Completed)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]run {run.RunId} ended {run.Status}[/] {run.FailedStage} {run.Error}");
                    return 1;
                }
                var report = runs.GetReport(new GetReportRequest { RunId = run.RunId });
                var table = new Table().AddColumns("student", "examples", "test (dev-selected)", "best test epoch");
                foreach (var arm in report.Arms)
                    table.AddRow(Markup.Escape(arm.Title), arm.Examples.ToString(), $"{arm.TestAccuracy:P1}", $"{arm.BestTestEpochAccuracy:P1}");
                AnsiConsole.Write(table);
                FddRoundsTable.Print(report);
                AnsiConsole.MarkupLineInterpolated($"{(report.MentorTestAccuracy > 0 ? $"Mentor test accuracy {report.MentorTestAccuracy:P1}. " : "")}Report: {report.Report.Key} (sha256 {report.Report.Sha256[..12]}…)");
                return 0;
            }
            catch (RpcException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.StatusCode}: {e.Status.Detail}");
                return 2;
            }
        }));
        return command;
    }
}
