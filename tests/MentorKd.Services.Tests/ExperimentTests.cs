using MentorKd.Distillation.Experiments;
using MentorKd.Embedded;

namespace MentorKd.Services.Tests;

/// <summary>An experiment's runs go through the embedded platform's Runs API; run again or extended, finished runs are reused.</summary>
public class ExperimentTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task A_grid_runs_through_the_platform_with_its_report_and_extended_by_a_seed_reuses_the_run_it_has()
    {
        var experiment = ExperimentConfig.Load(Path.Combine(EmbeddedTestRuns.RepositoryRoot(), "configs", "experiments", "tiny.json"));
        var baseConfig = experiment.LoadBase();
        var root = EmbeddedTestRuns.NewDataRoot();
        // One run per client at a time: the experiment's second run (it asks for two at once) waits for the first to end.
        await using var platform = await EmbeddedPlatform.StartAsync(EmbeddedRunSetup.For(baseConfig, root) with
        {
            Settings = new Dictionary<string, string?> { ["Augmentation:Limits:MaxConcurrentRunsPerClient"] = "1" },
        });
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);

        var log = new List<string>();
        var first = await ExperimentRunner.RunAsync(runs, experiment, baseConfig, line => { lock (log) log.Add(line); output.WriteLine(line); });
        Assert.Equal(2, experiment.Parallel);
        Assert.Contains(log, l => l.Contains("waiting for a run to end") && l.Contains("MaxConcurrentRunsPerClient = 1"));

        Assert.Equal(["completed", "completed"], first.Runs.Select(r => r.Status));
        Assert.All(first.Runs, r => Assert.False(r.Reused));
        Assert.Equal(["lambda=0.0", "lambda=0.6"], first.Runs.Select(r => r.Setting));
        Assert.Equal(6, first.Arms.Count); // two settings × the three arms the experiment sets (its base config has two), one seed each
        Assert.Equal(["fine_tune_cot", "no_soft_labels", "mentor_kd"], first.Arms.Take(3).Select(a => a.Arm));
        Assert.All(first.Arms, a => Assert.Equal(1, a.Accuracy.N));
        Assert.All(first.Runs, r => Assert.True(r.ArmTestAccuracy["mentor_kd"] > 0.5 && r.MentorTestAccuracy > 0.75, $"{r.Setting}: {string.Join(", ", r.ArmTestAccuracy)}"));
        var folder = Path.Combine(root, "report");
        ExperimentReport.Write(folder, first);
        Assert.Contains("| lambda=0.6 | mentor_kd |", File.ReadAllText(Path.Combine(folder, ExperimentReport.Markdown)));
        Assert.True(new FileInfo(Path.Combine(folder, ExperimentReport.Plot)).Length > 1000);
        Assert.Contains("\"reference_arm\": \"fine_tune_cot\"", File.ReadAllText(Path.Combine(folder, ExperimentReport.Json)));

        // Extended by a seed at one of the settings: the run it already has is reused, the new seed runs.
        var extended = await ExperimentRunner.RunAsync(runs, experiment with
        {
            Seeds = [7, 8], Grid = new Dictionary<string, IReadOnlyList<System.Text.Json.Nodes.JsonNode?>> { ["student.training.lambda"] = [0.6] },
        }, baseConfig, output.WriteLine);

        var kept = first.Runs.Single(r => r.Setting == "lambda=0.6");
        Assert.Equal([(7, true), (8, false)], extended.Runs.Select(r => (r.Seed, r.Reused)));
        Assert.Equal(kept.RunId, extended.Runs[0].RunId);
        Assert.Equal(kept.ArmTestAccuracy, extended.Runs[0].ArmTestAccuracy);
        Assert.Equal("completed", extended.Runs[1].Status);
        var mentorKd = extended.Arms.Single(a => a.Arm == "mentor_kd");
        Assert.Equal(2, mentorKd.Accuracy.N);
        Assert.Equal(extended.Runs.Average(r => r.ArmTestAccuracy["mentor_kd"]), mentorKd.Accuracy.Mean, 9);
        Assert.Equal(2, mentorKd.DifferenceFromReference!.N);

        // Runs the platform refuses are reported with the platform's reason, and the experiment still ends with its report.
        using var stranger = platform.ChannelFor("a-key-this-platform-does-not-know");
        var refused = await ExperimentRunner.RunAsync(new Protos.V1.Runs.RunsClient(stranger), experiment, baseConfig, output.WriteLine);
        Assert.All(refused.Runs, r => Assert.Equal("failed", r.Status));
        Assert.All(refused.Runs, r => Assert.StartsWith("Unauthenticated: ", r.Error));
        Assert.Empty(refused.Arms);
    }
}
