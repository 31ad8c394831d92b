using System.Text;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.Distillation.Pipeline;
using MentorKd.Storage;
using Microsoft.Extensions.Options;

namespace MentorKd.Augmentation.Runs;

/// <summary>When the service starts, every unfinished run is submitted again, so a restart (a crash, a redeploy)
/// needs no user action: the run state machine starts over from its first state, the services answer the work they
/// have already done from their records, and the run catches up with the work still under way on their queues.</summary>
public sealed class UnfinishedRunsRecovery(UnfinishedRuns unfinished, RunOwners owners, IObjectStore store, IBus bus, IOptions<AugmentationOptions> options,
    ILogger<UnfinishedRunsRecovery> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The bus may still be connecting: a publish that fails meanwhile is tried again.
        var retry = new TransientRetry(TimeSpan.FromSeconds(options.Value.RetrySeconds), logger);
        foreach (var runId in await unfinished.ListAsync(stoppingToken))
        {
            var keys = new RunKeys(runId);
            using var buffer = new MemoryStream();
            await store.GetAsync(keys.Config, buffer, stoppingToken);
            var name = RunConfig.Parse(Encoding.UTF8.GetString(buffer.ToArray()), Environment.CurrentDirectory).Name;
            var owner = await owners.FindAsync(runId, stoppingToken) ?? "";
            logger.LogInformation("Carrying on unfinished run {Run} ({Name})", runId, name);
            await retry.RunAsync("resubmitting an unfinished run", async () =>
            {
                await bus.Publish(new RunSubmitted(runId, name, keys.Config, DateTime.UtcNow, owner), stoppingToken);
                return true;
            }, stoppingToken, anyFailureIsTransient: true);
        }
    }
}
