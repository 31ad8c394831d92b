using System.Text.Json;
using System.Text.Json.Nodes;
using MentorKd.Distillation.Pipeline;

namespace MentorKd.Distillation.Experiments;

/// <summary>
/// An experiment: one run config (<see cref="Base"/>, with <see cref="Set"/> applied) run once per seed and per point of a
/// grid of settings. Grid and set keys are a run config's fields as dotted snake_case paths
/// (<c>student.training.lambda</c>, <c>augmentation.samples_per_question</c>, <c>teacher.questions</c>, …); every
/// combination of the grid's values is a setting, and every setting runs with every seed.
/// </summary>
public sealed record ExperimentConfig
{
    public string Name { get; init; } = "";
    /// <summary>The run config every run starts from (a path, relative to the experiment's file).</summary>
    public string Base { get; init; } = "";
    public IReadOnlyList<int> Seeds { get; init; } = [42, 1, 2];
    /// <summary>Field → the values it takes, in the order they are reported (the first field is the plots' x axis).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<JsonNode?>> Grid { get; init; } = new Dictionary<string, IReadOnlyList<JsonNode?>>();
    /// <summary>Field → value, for every run (e.g. which arms train).</summary>
    public IReadOnlyDictionary<string, JsonNode?> Set { get; init; } = new Dictionary<string, JsonNode?>();
    /// <summary>The arm the others are compared with, seed by seed (paired differences); default: the config's first arm.</summary>
    public string? ReferenceArm { get; init; }
    /// <summary>Runs in flight at once (the platform's trainer replicas take their jobs from one queue).</summary>
    public int Parallel { get; init; } = 1;

    /// <summary>Folder <see cref="Base"/> is resolved against.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public string BaseDirectory { get; init; } = Environment.CurrentDirectory;

    public const int MaxRuns = 500;

    /// <summary>Fields a run names but the platform decides (the gateway's simulated teacher, the hosts' devices and
    /// threads): varying them per run would vary nothing, so an experiment may not.</summary>
    public static readonly IReadOnlyList<string> PlatformFields = ["teacher", "device", "threads"];

    /// <summary>The teacher's fields a run does decide: how many questions it annotates, and how many rationales each.</summary>
    public static readonly IReadOnlyList<string> RunTeacherFields = ["teacher.annotated_questions", "teacher.rationales_per_question"];

    /// <summary>Whether the platform decides <paramref name="field"/>: its teacher (kind, endpoint, replay file, error rate —
    /// the gateway's, and embedded the base config's), its hosts' devices and threads.</summary>
    public static bool IsPlatformField(string field) => !RunTeacherFields.Contains(field) &&
        PlatformFields.Any(p => field == p || field.StartsWith(p + ".", StringComparison.Ordinal));

    public static ExperimentConfig Load(string path)
    {
        if (!File.Exists(path)) throw new ConfigException("--config", $"file '{path}' not found.");
        ExperimentConfig config;
        try
        {
            config = JsonSerializer.Deserialize<ExperimentConfig>(File.ReadAllText(path), RunConfig.Json) ?? throw new ConfigException("(root)", "the experiment is empty.");
        }
        catch (JsonException e)
        {
            throw new ConfigException(e.Path is { Length: > 0 } p ? p.TrimStart('$', '.') : "(root)", e.Message);
        }
        return config with { BaseDirectory = Path.GetDirectoryName(Path.GetFullPath(path))! };
    }

    public RunConfig LoadBase()
    {
        if (Base.Length == 0) throw new ConfigException("base", "names no run config.");
        var path = Path.GetFullPath(Path.Combine(BaseDirectory, Base));
        if (!File.Exists(path)) throw new ConfigException("base", $"file '{path}' not found (a path relative to the experiment's file).");
        return RunConfig.Load(path);
    }

    public void Validate()
    {
        Require(Name.Length is > 0 and <= 100 && Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'), "name",
            $"'{Name}' must be 1–100 letters, digits, '-', '_' or '.'.");
        Require(Seeds is not null, "seeds", "is null; list the seeds, e.g. [42, 1, 2].");
        Require(Grid is not null, "grid", "is null; leave it out for no grid.");
        Require(Set is not null, "set", "is null; leave it out to set nothing.");
        Require(Seeds!.Count > 0, "seeds", "needs at least one seed.");
        Require(Seeds.Distinct().Count() == Seeds.Count, "seeds", "lists a seed twice.");
        Require(Parallel is >= 1 and <= 64, "parallel", $"must be 1–64 (got {Parallel}).");
        foreach (var (field, values) in Grid!)
        {
            Require(values is { Count: > 0 }, $"grid.{field}", "lists no values.");
            // The same value twice would be one run counted twice: its seeds' spread would look smaller than it is.
            Require(values!.Select(v => v?.ToJsonString() ?? "null").Distinct().Count() == values.Count, $"grid.{field}", "lists a value twice.");
            Require(!Set!.ContainsKey(field), $"grid.{field}", "is also in set.");
            Require(field != "seed", "grid.seed", "seeds are listed under seeds.");
        }
        Require(!Set!.ContainsKey("seed"), "set.seed", "seeds are listed under seeds.");
        Require(!Set.ContainsKey("name"), "set.name", "the experiment names its runs ('<experiment>: <setting>, seed <seed>').");
        foreach (var field in Grid.Keys.Concat(Set.Keys).Where(IsPlatformField))
            throw new ConfigException(Grid.ContainsKey(field) ? $"grid.{field}" : $"set.{field}",
                "is decided by the platform (its teacher-gateway or hosts), not by a run, so an experiment cannot vary it.");
        long runs = Grid.Values.Aggregate((long)Seeds.Count, (n, values) => n * values.Count);
        Require(runs <= MaxRuns, "grid", $"expands to {runs} runs; an experiment may have at most {MaxRuns}.");
    }

    private static void Require(bool condition, string field, string problem)
    {
        if (!condition) throw new ConfigException(field, problem);
    }
}
