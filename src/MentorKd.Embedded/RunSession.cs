using System.Text.Json;
using Grpc.Core;
using MentorKd.Distillation.Pipeline;
using MentorKd.Protos.V1;

namespace MentorKd.Embedded;

/// <summary>A client's view of one run: start it through the Runs API and follow its events until it ends.</summary>
public static class RunSession
{
    /// <returns>The run as it stands when its event stream ends (completed, failed or cancelled).</returns>
    public static async Task<Run> RunAsync(Protos.V1.Runs.RunsClient runs, Guid runId, RunConfig config, Action<RunEvent> onEvent, CancellationToken cancellationToken = default)
    {
        var json = JsonSerializer.Serialize(config.WithAbsolutePaths(), RunConfig.Json);
        await runs.StartRunAsync(new StartRunRequest { RunId = runId.ToString("D"), ConfigJson = json }, cancellationToken: cancellationToken);
        RunStatus ended = RunStatus.Unspecified;
        using (var watch = runs.WatchRun(new WatchRunRequest { RunId = runId.ToString("D") }, cancellationToken: cancellationToken))
        {
            await foreach (var e in watch.ResponseStream.ReadAllAsync(cancellationToken))
            {
                onEvent(e);
                if (e.Kind == RunEventKind.RunEnded) ended = e.Status;
            }
        }
        // The state machine hears the run's last event a moment after the stream ends.
        for (int attempt = 0; ; attempt++)
        {
            var run = await runs.GetRunAsync(new GetRunRequest { RunId = runId.ToString("D") }, cancellationToken: cancellationToken);
            if (run.Status == ended || attempt == 100 || ended is RunStatus.Unspecified) return run;
            await Task.Delay(50, cancellationToken);
        }
    }
}
