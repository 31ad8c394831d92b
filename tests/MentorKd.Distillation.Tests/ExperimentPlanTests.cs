using MentorKd.Distillation.Experiments;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Training;

namespace MentorKd.Distillation.Tests;

public class ExperimentPlanTests
{
    private static readonly RunConfig Base = RunConfig.Parse("""
        { "name": "base", "task": { "name": "coin_flip", "source": "synthetic", "train_questions": 40, "dev_questions": 5, "test_questions": 5 },
          "arms": ["fine_tune_cot", "mentor_kd"] }
        """, ".");

    private static ExperimentConfig Experiment(string json, string directory = ".") =>
        ExperimentConfigFromJson(json) with { BaseDirectory = directory };

    private static ExperimentConfig ExperimentConfigFromJson(string json)
    {
        var file = Path.Combine(Path.GetTempPath(), $"experiment-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, json);
        try { return ExperimentConfig.Load(file); }
        finally { File.Delete(file); }
    }

    [Fact]
    public void A_grid_expands_to_every_combination_with_every_seed_each_run_its_config_and_a_stable_id()
    {
        var experiment = Experiment("""
            { "name": "sweep", "base": "x.json", "seeds": [1, 2, 3],
              "grid": { "student.training.lambda": [0.0, 0.5], "augmentation.samples_per_question": [1, 4] },
              "set": { "student.training.kd_mode": "mse" } }
            """);

        var runs = ExperimentPlan.Expand(experiment, Base);

        Assert.Equal(2 * 2 * 3, runs.Count);
        Assert.Equal(4, runs.Select(r => r.Setting.Label).Distinct().Count());
        Assert.All(runs, r => Assert.Equal(KnowledgeDistillationMode.Mse, r.Config.Student.Training.KdMode));
        var one = runs.Single(r => r.Setting.Label == "lambda=0.5, samples_per_question=4" && r.Seed == 2);
        Assert.Equal((0.5, 4, 2), (one.Config.Student.Training.Lambda, one.Config.Augmentation.SamplesPerQuestion, one.Config.Seed));
        Assert.Equal(runs.Count, runs.Select(r => r.RunId).Distinct().Count());
        // The same experiment expanded again, or extended by a seed, names the same runs: that is how finished runs are found.
        Assert.Equal(runs.Select(r => r.RunId), ExperimentPlan.Expand(experiment, Base).Select(r => r.RunId));
        var extended = ExperimentPlan.Expand(experiment with { Seeds = [1, 2, 3, 4] }, Base);
        Assert.Subset(extended.Select(r => r.RunId).ToHashSet(), runs.Select(r => r.RunId).ToHashSet());
        Assert.NotEqual(runs[0].RunId, ExperimentPlan.Expand(experiment with { Name = "other" }, Base)[0].RunId);
    }

    [Fact]
    public void Seeds_alone_make_one_setting_and_an_optional_section_can_be_set_field_by_field()
    {
        var runs = ExperimentPlan.Expand(Experiment("""{ "name": "seeds", "base": "x.json", "seeds": [5, 6], "set": { "fdd.pool_sample": 10 } }"""), Base);
        Assert.Equal(["default", "default"], runs.Select(r => r.Setting.Label));
        Assert.Equal([5, 6], runs.Select(r => r.Config.Seed));
        Assert.All(runs, r => Assert.Equal(10, r.Config.Fdd.PoolSample));
    }

    [Theory]
    [InlineData("""{ "name": "x", "base": "b", "grid": { "student.training.lamda": [0.1] } }""", "grid.student.training.lamda", "no field 'student.training.lamda'")]
    [InlineData("""{ "name": "x", "base": "b", "grid": { "student.training.lambda": [1.5] } }""", "grid (lambda=1.5): student.training.lambda", "must be in [0, 1]")]
    [InlineData("""{ "name": "x", "base": "b", "grid": { "student.training.lambda": [] } }""", "grid.student.training.lambda", "lists no values")]
    [InlineData("""{ "name": "x", "base": "b", "grid": { "seed": [1, 2] } }""", "grid.seed", "listed under seeds")]
    [InlineData("""{ "name": "x", "base": "b", "grid": { "teacher.error_rate": [0.1, 0.3] } }""", "grid.teacher.error_rate", "decided by the platform")]
    [InlineData("""{ "name": "x", "base": "b", "seeds": [1, 1] }""", "seeds", "twice")]
    [InlineData("""{ "name": "x y", "base": "b" }""", "name", "must be 1–100 letters")]
    [InlineData("""{ "name": "x", "base": "b", "parallel": 0 }""", "parallel", "must be 1–64")]
    [InlineData("""{ "name": "x", "base": "b", "grid": { "task.name.value": [1] } }""", "grid.task.name.value", "is a value, not a section")]
    [InlineData("""{ "name": "x", "base": "b", "grid": { "student.training.lambda": [0.3, 0.3] } }""", "grid.student.training.lambda", "lists a value twice")]
    [InlineData("""{ "name": "x", "base": "b", "grid": { "student.training.lambda": null } }""", "grid.student.training.lambda", "lists no values")]
    [InlineData("""{ "name": "x", "base": "b", "grid": null }""", "grid", "is null")]
    [InlineData("""{ "name": "x", "base": "b", "seeds": null }""", "seeds", "is null")]
    [InlineData("""{ "name": "x", "base": "b", "set": { "seed": 3 } }""", "set.seed", "listed under seeds")]
    [InlineData("""{ "name": "x", "base": "b", "set": { "name": "y" } }""", "set.name", "the experiment names its runs")]
    [InlineData("""{ "name": "x", "base": "b", "set": { "teacher.kind": "replay" } }""", "set.teacher.kind", "decided by the platform")]
    [InlineData("""{ "name": "x", "base": "b", "set": { "student.training.lambda": 2 } }""", "set: student.training.lambda", "must be in [0, 1]")]
    [InlineData("""{ "name": "x", "base": "b", "reference_arm": "no_soft_labels" }""", "reference_arm", "'no_soft_labels' is not an arm of run 'x: default, seed 42'")]
    public void A_bad_experiment_is_refused_naming_the_field(string json, string field, string message)
    {
        var error = Assert.Throws<ConfigException>(() => ExperimentPlan.Expand(Experiment(json), Base));
        Assert.Contains(field, error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Every_shipped_experiment_expands_into_valid_runs()
    {
        var repo = Directory.GetParent(AppContext.BaseDirectory)!;
        while (!File.Exists(Path.Combine(repo.FullName, "MentorKd.Platform.sln"))) repo = repo.Parent!;
        var files = Directory.GetFiles(Path.Combine(repo.FullName, "configs", "experiments"), "*.json");
        Assert.True(files.Length >= 5, "the shipped analyses");
        foreach (var file in files)
        {
            var experiment = ExperimentConfig.Load(file);
            var runs = ExperimentPlan.Expand(experiment, experiment.LoadBase());
            Assert.Equal(experiment.Seeds.Count * experiment.Grid.Values.Aggregate(1, (n, v) => n * v.Count), runs.Count);
        }
    }

    [Fact]
    public void An_unknown_experiment_key_is_refused_naming_it()
    {
        var error = Assert.Throws<ConfigException>(() => Experiment("""{ "name": "x", "base": "b", "seed": [1] }"""));
        Assert.Contains("seed", error.Message);
    }

    [Fact]
    public void Statistics_over_seeds_use_students_t()
    {
        var three = SeedStatistics.Of([0.965, 0.98, 0.995]);
        Assert.Equal(0.98, three.Mean, 9);
        Assert.Equal(0.015, three.StandardDeviation, 9);
        Assert.Equal(4.303 * 0.015 / Math.Sqrt(3), three.HalfWidth95, 9);
        Assert.Equal("98.0 ± 1.5 (95% CI 94.3 to 101.7, n=3)", three.DescribePoints());
        Assert.Equal("+0.5 ± 0.5 (95% CI -0.7 to +1.7, n=3)", SeedStatistics.Of([0.005, 0.01, 0.0]).DescribePoints(signed: true));
        Assert.Equal((1, 0.0), (SeedStatistics.Of([0.5]).N, SeedStatistics.Of([0.5]).HalfWidth95));
        Assert.Equal(2.042, SeedStatistics.TwoSided95(30));
        Assert.InRange(SeedStatistics.TwoSided95(60), 2.000, 2.001); // t(60) = 2.0003
        Assert.InRange(SeedStatistics.TwoSided95(1000), 1.962, 1.963);
    }

    [Fact]
    public void A_summary_pairs_each_seed_with_the_reference_arm_and_leaves_failed_runs_out()
    {
        var experiment = Experiment("""{ "name": "s", "base": "b", "seeds": [2, 1, 3] }""");
        ExperimentRunResult Run(int seed, double ftc, double kd, string status = "completed") => new()
        {
            Setting = "default", Values = new Dictionary<string, string>(), Seed = seed, RunId = Guid.NewGuid(), Status = status,
            ArmTestAccuracy = status == "completed" ? new Dictionary<string, double> { ["fine_tune_cot"] = ftc, ["mentor_kd"] = kd } : new Dictionary<string, double>(),
        };
        var summary = ExperimentSummary.Of(experiment, ["fine_tune_cot", "mentor_kd"], [Run(1, 0.90, 0.95), Run(2, 0.80, 0.86), Run(3, 0, 0, "failed")]);

        var kd = summary.Arms.Single(a => a.Arm == "mentor_kd");
        Assert.Equal(2, kd.Accuracy.N);
        Assert.Equal(0.905, kd.Accuracy.Mean, 9);
        Assert.Equal([0.86, 0.95], kd.PerSeed); // in the experiment's order of seeds (2, then 1), not sorted
        Assert.Equal(0.055, kd.DifferenceFromReference!.Mean, 9); // (0.05 + 0.06) / 2
        Assert.Null(summary.Arms.Single(a => a.Arm == "fine_tune_cot").DifferenceFromReference);
        var markdown = ExperimentReport.ToMarkdown(summary);
        Assert.Contains("| default | mentor_kd | 90.5 ± 6.4 (95% CI", markdown);
        Assert.Contains("| +5.5 ± 0.7", markdown);
        Assert.Contains("failed", markdown);
        Assert.True(ExperimentReport.AccuracyPlot(summary).Length > 1000);
    }
}
