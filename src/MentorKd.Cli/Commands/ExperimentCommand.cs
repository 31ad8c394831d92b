using System.CommandLine;
using Grpc.Core;
using MentorKd.Distillation.Experiments;
using MentorKd.Distillation.Pipeline;
using MentorKd.Embedded;
using Spectre.Console;

namespace MentorKd.Cli.Commands;

/// <summary>
/// <c>mentorkd experiment</c>: an experiment config's runs (seeds × grid) through the platform — the five services in this
/// process, or a running platform with <c>--address</c> — then its report (mean ± spread, 95% intervals, plot) in the
/// output folder. Run it again with the same folder (or address) and finished runs are reused.
/// </summary>
internal static class ExperimentCommand
{
    public static Command Create()
    {
        var configPath = new Option<string>("--config") { Description = "Experiment config (JSON): base run config, seeds, grid.", Required = true };
        var output = new Option<string?>("--out") { Description = "Report folder (default: runs/experiments/<name>); embedded, the platform's data is kept under it." };
        var address = new Option<string?>("--address") { Description = "A running platform's augmentation service (default: the five services in this process)." };
        var apiKey = PlatformConnection.ApiKey();
        var command = new Command("experiment", "Run an experiment (seeds × a grid of settings) through the platform and report mean, spread and confidence intervals.")
            { configPath, output, address, apiKey, RuntimeOptions.FixedThreadShare };
        command.SetAction(result => RuntimeOptions.Guarded(() =>
        {
            var experiment = ExperimentConfig.Load(result.GetValue(configPath)!);
            var baseConfig = experiment.LoadBase();
            ExperimentPlan.Expand(experiment, baseConfig); // every run's config is checked before any work, naming the field
            var folder = Path.GetFullPath(result.GetValue(output) ?? Path.Combine("runs", "experiments", experiment.Name));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                var summary = RunAsync(experiment, baseConfig, folder, result.GetValue(address), result.GetValue(apiKey),
                    result.GetValue(RuntimeOptions.FixedThreadShare)).GetAwaiter().GetResult();
                ExperimentReport.Write(folder, summary);
                Print(summary);
                AnsiConsole.MarkupLineInterpolated($"Total time: {clock.Elapsed.TotalMinutes:F1} min. Report: {Path.Combine(folder, ExperimentReport.Markdown)}");
                return summary.Runs.All(r => r.Status == "completed") ? 0 : 1;
            }
            catch (RpcException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.StatusCode}: {e.Status.Detail}");
                return 2;
            }
        }));
        return command;
    }

    private static async Task<ExperimentSummary> RunAsync(ExperimentConfig experiment, RunConfig baseConfig, string folder, string? address, string? apiKey,
        bool fixedThreadShare)
    {
        void Log(string line) => Console.WriteLine(line); // one line per run, unwrapped when the output is a file
        if (address is not null)
        {
            using var channel = PlatformConnection.Open(address, apiKey);
            return await ExperimentRunner.RunAsync(new Protos.V1.Runs.RunsClient(channel), experiment, baseConfig, Log);
        }
        await using var platform = await EmbeddedPlatform.StartAsync(EmbeddedRunSetup.For(baseConfig, Path.Combine(folder, "platform")) with
        {
            TrainerFixedThreadShare = fixedThreadShare,
        });
        return await ExperimentRunner.RunAsync(new Protos.V1.Runs.RunsClient(platform.Channel), experiment, baseConfig, Log);
    }

    private static void Print(ExperimentSummary summary)
    {
        var table = new Table().AddColumns("setting", "arm", "test accuracy (mean ± sd, 95% CI)", $"− {summary.ReferenceArm} (paired)");
        foreach (var arm in summary.Arms)
            table.AddRow(Markup.Escape(arm.Setting), Markup.Escape(arm.Arm), arm.Accuracy.DescribePoints(),
                arm.DifferenceFromReference is { } d ? d.DescribePoints(signed: true) : "");
        AnsiConsole.Write(table);
    }
}
