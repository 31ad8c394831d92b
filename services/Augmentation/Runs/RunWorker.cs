namespace MentorKd.Augmentation.Runs;

/// <summary>Works through queued runs one at a time (the trainer trains one model at a time anyway). A run that is
/// cancelled while it waits ends as soon as its turn comes.</summary>
public sealed class RunWorker(LiveRuns runs, IServiceProvider services) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var run in runs.Queue.ReadAllAsync(stoppingToken))
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(run.Cancellation.Token, stoppingToken);
            var orchestrator = ActivatorUtilities.CreateInstance<RunOrchestrator>(services, run);
            await orchestrator.RunAsync(linked.Token);
        }
    }
}
