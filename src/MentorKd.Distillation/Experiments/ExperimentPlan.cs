using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MentorKd.Distillation.Pipeline;

namespace MentorKd.Distillation.Experiments;

/// <summary>One setting of an experiment's grid: each field's value, in the grid's order.</summary>
public sealed record ExperimentSetting(IReadOnlyList<(string Field, string Value)> Values)
{
    /// <summary>"lambda=0.5, samples_per_question=2" (each field by its last name); "default" for an experiment without a grid.</summary>
    public string Label => Values.Count == 0 ? "default" : string.Join(", ", Values.Select(v => $"{v.Field[(v.Field.LastIndexOf('.') + 1)..]}={v.Value}"));
}

/// <summary>One run of an experiment. Its id is derived from the experiment's name and the run's whole config, so the
/// same experiment run again (resumed, or extended by seeds or values) finds the runs it already has.</summary>
public sealed record ExperimentRun(ExperimentSetting Setting, int Seed, RunConfig Config, Guid RunId);

/// <summary>An experiment expanded into its runs: every setting of the grid, with every seed.</summary>
public static class ExperimentPlan
{
    public static IReadOnlyList<ExperimentRun> Expand(ExperimentConfig experiment, RunConfig baseConfig)
    {
        experiment.Validate();
        var root = JsonSerializer.SerializeToNode(baseConfig, RunConfig.Json)!.AsObject();
        foreach (var (field, value) in experiment.Set) Assign(root, field, value, $"set.{field}");

        var settings = new List<List<(string Field, JsonNode? Value)>> { new() };
        foreach (var (field, values) in experiment.Grid)
            settings = settings.SelectMany(s => values.Select(v => new List<(string, JsonNode?)>(s) { (field, v) })).ToList();

        var runs = new List<ExperimentRun>();
        foreach (var setting in settings)
        {
            var node = root.DeepClone().AsObject();
            foreach (var (field, value) in setting) Assign(node, field, value, $"grid.{field}");
            var label = new ExperimentSetting(setting.Select(s => (s.Field, s.Value?.ToJsonString() ?? "null")).ToList());
            foreach (var seed in experiment.Seeds)
            {
                node["seed"] = seed;
                node["name"] = $"{experiment.Name}: {label.Label}, seed {seed}";
                RunConfig config;
                try
                {
                    config = RunConfig.Parse(node.ToJsonString(), baseConfig.BaseDirectory);
                    RunConfigValidator.Validate(config);
                }
                catch (ConfigException e)
                {
                    throw new ConfigException(label.Values.Count == 0 ? $"set: {e.Field}" : $"grid ({label.Label}): {e.Field}", e.Message);
                }
                runs.Add(new ExperimentRun(label, seed, config, RunIdOf(experiment.Name, config)));
            }
        }
        if (experiment.ReferenceArm is { } reference && runs.FirstOrDefault(r => !r.Config.Arms.Contains(reference)) is { } without)
            throw new ConfigException("reference_arm", $"'{reference}' is not an arm of run '{without.Config.Name}' (its arms: {string.Join(", ", without.Config.Arms)}).");
        return runs;
    }

    /// <summary>The run's id: a hash of the experiment's name and the run's config, with its paths made absolute.</summary>
    public static Guid RunIdOf(string experiment, RunConfig config)
    {
        var json = JsonSerializer.Serialize(config.WithAbsolutePaths(), RunConfig.Json);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"mentorkd-experiment\n{experiment}\n{json}"));
        hash[7] = (byte)(hash[7] & 0x0F | 0x80); // version 8 (custom), as RFC 9562 marks ids made this way
        hash[8] = (byte)(hash[8] & 0x3F | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }

    /// <summary>Sets a field of the config's JSON by its dotted path; a field the config does not have is an error naming it.</summary>
    private static void Assign(JsonObject root, string path, JsonNode? value, string field)
    {
        var parts = path.Split('.');
        JsonObject node = root;
        bool unset = false; // inside an optional section the config leaves null: its field names are checked when it is parsed
        for (int i = 0; i < parts.Length; i++)
        {
            if (!unset && !node.ContainsKey(parts[i]))
                throw new ConfigException(field, $"the run config has no field '{string.Join('.', parts[..(i + 1)])}' (fields are snake_case, e.g. student.training.lambda).");
            if (i == parts.Length - 1)
            {
                node[parts[i]] = value?.DeepClone();
                return;
            }
            if (node[parts[i]] is null)
            {
                node[parts[i]] = new JsonObject();
                unset = true;
            }
            node = node[parts[i]] as JsonObject ?? throw new ConfigException(field, $"'{string.Join('.', parts[..(i + 1)])}' is a value, not a section.");
        }
    }
}
