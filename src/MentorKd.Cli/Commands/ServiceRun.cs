using System.Text.Json;
using MentorKd.Distillation.Pipeline;
using MentorKd.Embedded;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;
using RunReport = MentorKd.Protos.V1.RunReport;

namespace MentorKd.Cli.Commands;

/// <summary>
/// <c>mentorkd run</c> through the services: the five services start in this process (the embedded platform), the
/// run is submitted and watched through the Runs gRPC API like any client would, and the report is copied out of
/// the object store into the run folder. The run's id is kept in the folder, so running again continues it.
/// </summary>
internal static class ServiceRun
{
    /// <param name="newQuestions">Questions to add once the run has completed: each new batch is a retraining round.</param>
    /// <param name="fixedThreadShare">Each training job on its fixed share of the threads (Trainer:FixedThreadShare).</param>
    public static async Task<(RunResults Results, RunReport Report)> RunAsync(RunConfig config, string folder, IPipelineObserver observer, IReadOnlyList<Distillation.Data.Question>? newQuestions = null,
        bool fixedThreadShare = false, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(folder);
        var runId = RunId(folder);
        await using var platform = await EmbeddedPlatform.StartAsync(EmbeddedRunSetup.For(config, Path.Combine(folder, "platform")) with { TrainerFixedThreadShare = fixedThreadShare },
            cancellationToken);
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);
        var bridge = new RunEventObserverBridge(observer);
        var run = await RunSession.RunAsync(runs, runId, config, bridge.On, cancellationToken);
        if (run.Status != RunStatus.Completed)
            throw new InvalidOperationException($"run {run.RunId} ended {run.Status}{(run.FailedStage.Length > 0 ? $" in {run.FailedStage}" : "")}: {run.Error}");

        if (newQuestions is { Count: > 0 })
            await RoundClient.AddAndFollowAsync(runs, run.RunId, newQuestions, wait: true, cancellationToken);

        // The report's objects, copied next to the platform's data for reading.
        var store = platform.Services.GetRequiredService<IObjectStore>();
        var report = Path.Combine(folder, "report");
        if (Directory.Exists(report)) Directory.Delete(report, recursive: true);
        await store.DownloadAsync($"runs/{run.RunId}/reports/", report, cancellationToken);
        var results = JsonSerializer.Deserialize<RunResults>(File.ReadAllText(Path.Combine(report, "results.json")), Augmentation.Runs.RunReportWriter.ResultsJson)!;
        return (results, await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId }, cancellationToken: cancellationToken));
    }

    private static Guid RunId(string folder)
    {
        var file = Path.Combine(folder, "run-id");
        if (File.Exists(file) && Guid.TryParse(File.ReadAllText(file).Trim(), out var existing)) return existing;
        var id = Guid.NewGuid();
        File.WriteAllText(file, id.ToString("D") + "\n");
        return id;
    }
}
