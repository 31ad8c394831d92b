namespace MentorKd.Distillation.Experiments;

/// <summary>What one run of an experiment gave: each arm's test accuracy at its dev-selected epoch (and the mentor's).</summary>
public sealed record ExperimentRunResult
{
    public required string Setting { get; init; }
    public required IReadOnlyDictionary<string, string> Values { get; init; }
    public required int Seed { get; init; }
    public required Guid RunId { get; init; }
    /// <summary>completed, failed or cancelled.</summary>
    public required string Status { get; init; }
    /// <summary>Whether the run had completed before this invocation (an experiment resumed or extended).</summary>
    public bool Reused { get; init; }
    public double? MentorTestAccuracy { get; init; }
    public IReadOnlyDictionary<string, double> ArmTestAccuracy { get; init; } = new Dictionary<string, double>();
    public string Error { get; init; } = "";
}

/// <summary>An arm at one setting, over the seeds that completed; and, beside the reference arm, the seed-by-seed difference.</summary>
public sealed record ArmSummary(string Setting, IReadOnlyDictionary<string, string> Values, string Arm, SeedStatistics Accuracy,
    IReadOnlyList<double> PerSeed, SeedStatistics? DifferenceFromReference);

/// <summary>The mentor's test accuracy at one setting, over seeds.</summary>
public sealed record MentorSummary(string Setting, SeedStatistics Accuracy);

/// <summary>The experiment's summary: per setting and arm, mean, spread and 95% interval over seeds.</summary>
public sealed record ExperimentSummary(string Name, string ReferenceArm, IReadOnlyList<string> GridFields, IReadOnlyList<ExperimentRunResult> Runs,
    IReadOnlyList<ArmSummary> Arms, IReadOnlyList<MentorSummary> Mentors)
{
    public static ExperimentSummary Of(ExperimentConfig experiment, IReadOnlyList<string> arms, IReadOnlyList<ExperimentRunResult> runs)
    {
        var reference = experiment.ReferenceArm ?? arms[0];
        var completed = runs.Where(r => r.Status == "completed").ToList();
        var summaries = new List<ArmSummary>();
        var mentors = new List<MentorSummary>();
        foreach (var setting in runs.GroupBy(r => r.Setting))
        {
            // Per-seed values in the experiment's order of seeds, as its header and runs table list them.
            var done = completed.Where(r => r.Setting == setting.Key).OrderBy(r => SeedOrder(experiment, r.Seed)).ToList();
            if (done.Count == 0) continue;
            var values = setting.First().Values;
            foreach (var arm in arms)
            {
                var seeds = done.Where(r => r.ArmTestAccuracy.ContainsKey(arm)).ToList();
                if (seeds.Count == 0) continue;
                List<double> paired = arm == reference ? [] : seeds.Where(r => r.ArmTestAccuracy.ContainsKey(reference))
                    .Select(r => r.ArmTestAccuracy[arm] - r.ArmTestAccuracy[reference]).ToList();
                summaries.Add(new ArmSummary(setting.Key, values, arm, SeedStatistics.Of(seeds.Select(r => r.ArmTestAccuracy[arm]).ToList()),
                    seeds.Select(r => r.ArmTestAccuracy[arm]).ToList(), paired.Count > 0 ? SeedStatistics.Of(paired) : null));
            }
            if (done.Where(r => r.MentorTestAccuracy is > 0).Select(r => r.MentorTestAccuracy!.Value).ToList() is { Count: > 0 } mentor)
                mentors.Add(new MentorSummary(setting.Key, SeedStatistics.Of(mentor)));
        }
        return new ExperimentSummary(experiment.Name, reference, experiment.Grid.Keys.ToList(), runs, summaries, mentors);
    }

    private static int SeedOrder(ExperimentConfig experiment, int seed) =>
        experiment.Seeds.ToList().IndexOf(seed) is var index and >= 0 ? index : int.MaxValue;
}
