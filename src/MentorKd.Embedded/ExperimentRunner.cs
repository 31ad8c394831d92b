using Grpc.Core;
using MentorKd.Distillation.Experiments;
using MentorKd.Distillation.Pipeline;
using MentorKd.Protos.V1;

namespace MentorKd.Embedded;

/// <summary>
/// An experiment through a platform's Runs API, like any client: each of its runs is started (at most
/// <see cref="ExperimentConfig.Parallel"/> at once), followed to its end, and read back from its report. A run that already
/// completed under its id (the experiment resumed, or extended by seeds or values) is reused, not run again; one that
/// failed or was interrupted continues from where it stopped.
/// </summary>
public static class ExperimentRunner
{
    public static async Task<ExperimentSummary> RunAsync(Protos.V1.Runs.RunsClient runs, ExperimentConfig experiment, RunConfig baseConfig,
        Action<string> log, CancellationToken cancellationToken = default)
    {
        var plan = ExperimentPlan.Expand(experiment, baseConfig);
        int settings = plan.Select(r => r.Setting.Label).Distinct().Count();
        log($"Experiment '{experiment.Name}': {plan.Count} runs ({settings} setting{(settings == 1 ? "" : "s")} × {experiment.Seeds.Count} seed{(experiment.Seeds.Count == 1 ? "" : "s")}), " +
            $"{experiment.Parallel} at a time");
        using var slots = new SemaphoreSlim(experiment.Parallel);
        var results = await Task.WhenAll(plan.Select(async run =>
        {
            await slots.WaitAsync(cancellationToken);
            try { return await RunOneAsync(runs, run, log, cancellationToken); }
            finally { slots.Release(); }
        }));
        // The arms as the runs have them (an experiment may set them, or sweep them), in the order they are first named.
        return ExperimentSummary.Of(experiment, plan.SelectMany(r => r.Config.Arms).Distinct().ToList(), results);
    }

    private static async Task<ExperimentRunResult> RunOneAsync(Protos.V1.Runs.RunsClient runs, ExperimentRun planned, Action<string> log, CancellationToken cancellationToken)
    {
        var id = planned.RunId.ToString("D");
        var result = new ExperimentRunResult
        {
            Setting = planned.Setting.Label, Values = planned.Setting.Values.ToDictionary(v => v.Field, v => v.Value), Seed = planned.Seed,
            RunId = planned.RunId, Status = "failed",
        };
        try
        {
            var before = await FindAsync(runs, id, cancellationToken);
            bool reused = before?.Status == RunStatus.Completed;
            var run = reused ? before! : await FollowToEndAsync(runs, planned, log, cancellationToken);
            result = result with
            {
                Status = run.Status.ToString().ToLowerInvariant(), Reused = reused,
                Error = run.Status == RunStatus.Completed ? "" : $"{run.FailedStage}: {run.Error}",
            };
            if (run.Status == RunStatus.Completed)
            {
                var report = await runs.GetReportAsync(new GetReportRequest { RunId = id }, cancellationToken: cancellationToken);
                result = result with
                {
                    MentorTestAccuracy = report.MentorTestAccuracy > 0 ? report.MentorTestAccuracy : null,
                    ArmTestAccuracy = report.Arms.ToDictionary(a => a.Arm, a => a.TestAccuracy),
                };
            }
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            // One run the platform refused or could not be asked about (a server away) must not cost the experiment the
            // others' results; the run keeps its id, so running the experiment again picks it up.
            result = result with { Error = $"{e.StatusCode}: {e.Status.Detail} (run the experiment again to resume this run)" };
        }
        log($"  {planned.Setting.Label}, seed {planned.Seed}: {result.Status}{(result.Reused ? " (reused)" : "")} " +
            string.Join(", ", result.ArmTestAccuracy.Select(a => $"{a.Key} {100 * a.Value:F1}")) + (result.Error.Length > 0 ? $" — {result.Error}" : ""));
        return result;
    }

    /// <summary>Starts the run and returns it once it has ended. The platform's per-client run limit is waited out (the
    /// experiment's own runs free it), and a run whose event stream closed while it still works — the stream's server
    /// restarted, or another replica holds the run — is followed by asking for it until it ends.</summary>
    private static async Task<Run> FollowToEndAsync(Protos.V1.Runs.RunsClient runs, ExperimentRun planned, Action<string> log, CancellationToken cancellationToken)
    {
        Run run;
        for (bool told = false; ; told = true)
        {
            try
            {
                run = await RunSession.RunAsync(runs, planned.RunId, planned.Config, _ => { }, cancellationToken);
                break;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                if (!told) log($"  {planned.Setting.Label}, seed {planned.Seed}: waiting for a run to end ({e.Status.Detail})");
                await Task.Delay(LimitRetry, cancellationToken);
            }
        }
        while (run.Status is not (RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled))
        {
            await Task.Delay(EndPoll, cancellationToken);
            run = await runs.GetRunAsync(new GetRunRequest { RunId = planned.RunId.ToString("D") }, cancellationToken: cancellationToken);
        }
        return run;
    }

    private static readonly TimeSpan LimitRetry = TimeSpan.FromSeconds(10), EndPoll = TimeSpan.FromSeconds(2);

    private static async Task<Run?> FindAsync(Protos.V1.Runs.RunsClient runs, string id, CancellationToken cancellationToken)
    {
        try { return await runs.GetRunAsync(new GetRunRequest { RunId = id }, cancellationToken: cancellationToken); }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound) { return null; }
    }
}
