using MentorKd.Distillation.Experiments;
using MentorKd.Embedded;
using MentorKd.Storage;

namespace MentorKd.Integration.Tests;

/// <summary>An experiment through the distributed platform: its runs side by side on RabbitMQ, S3 and two trainer replicas.</summary>
[Collection(InfrastructureCollection.Name)]
public class DistributedExperimentTests(Infrastructure infrastructure, Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task A_tiny_grid_runs_across_the_services_and_resumed_reuses_every_run()
    {
        var experiment = ExperimentConfig.Load(Path.Combine(ServiceProcess.RepositoryRoot(), "configs", "experiments", "tiny.json"));
        var baseConfig = experiment.LoadBase();
        await using var platform = await DistributedPlatform.StartAsync(infrastructure, trainers: 2);

        var summary = await ExperimentRunner.RunAsync(platform.Runs, experiment, baseConfig, output.WriteLine);

        Assert.True(summary.Runs.All(r => r.Status == "completed"), string.Join("\n", summary.Runs.Select(r => $"{r.Setting}: {r.Status} {r.Error}")));
        Assert.Equal(6, summary.Arms.Count); // two settings × three arms
        var store = new MinioObjectStore(infrastructure.NewMinioClient(), Infrastructure.Bucket);
        foreach (var run in summary.Runs)
            Assert.True(await store.StatAsync($"runs/{run.RunId}/reports/lineage.json") is not null, $"{run.Setting}: no lineage in the bucket");

        var resumed = await ExperimentRunner.RunAsync(platform.Runs, experiment, baseConfig, output.WriteLine);
        Assert.All(resumed.Runs, r => Assert.True(r.Reused));
        Assert.Equal(summary.Arms.Select(a => a.Accuracy.Mean), resumed.Arms.Select(a => a.Accuracy.Mean));
    }
}
