using System.Text;
using MentorKd.Augmentation.Datasets;
using MentorKd.Protos.V1;

namespace MentorKd.Augmentation.Runs;

/// <summary>Which datasets and checkpoints made which in one run, each with its stored key and content hash.</summary>
public static class RunLineage
{
    public static async Task<IReadOnlyList<LineageEntry>> CollectAsync(RunKeys keys, DatasetRegistry registry, IReadOnlyList<PretrainedStage> pretrained,
        TokenizerStage tokenizer, TrainingStage? mentor,
        IReadOnlyList<(string Arm, TrainingStage Job)> students, IReadOnlyDictionary<string, EvaluationStage> evaluations, CancellationToken cancellationToken)
    {
        var entries = new List<LineageEntry>();
        var names = new Dictionary<string, string>(); // object key → lineage name
        foreach (var (name, dataset) in new[] { ("train-questions", "train"), ("dev-questions", "dev"), ("test-questions", "test"), ("teacher-rationales", "teacher"), ("mentor-rationales", "mentor") })
        {
            var record = await registry.FindAsync(keys.DatasetId(dataset), cancellationToken);
            if (record is null) continue;
            names[record.Key] = name;
            var derivedFrom = record.DerivedFrom switch
            {
                null => [],
                var d when d == keys.DatasetId("train") && dataset == "mentor" => new[] { "train-questions", "checkpoint:mentor" },
                var d when d == keys.DatasetId("train") => ["train-questions"],
                var d => [d],
            };
            entries.Add(Entry(name, record.Key, record.Sha256, record.SizeBytes, record.Producer ?? "", derivedFrom));
        }
        foreach (var model in pretrained)
        {
            names[model.Key] = $"pretrained:{model.Role}";
            entries.Add(Entry(names[model.Key], model.Key, model.Sha256, model.Bytes, $"{model.ModelType} model folder from {model.Source}", []));
        }
        entries.Add(Entry("tokenizer", keys.Tokenizer, tokenizer.Sha256, tokenizer.Bytes, $"{tokenizer.Kind} tokenizer ({tokenizer.VocabSize} tokens)",
            pretrained.Count > 0 ? pretrained.Select(p => names[p.Key]) : ["train-questions", "teacher-rationales"]));
        names[keys.Tokenizer] = "tokenizer";

        var jobs = mentor is null ? students : students.Prepend((RunSteps.MentorJob, mentor));
        foreach (var (job, stage) in jobs)
        {
            var inputs = stage.TrainedOn.Select(k => names.GetValueOrDefault(k, k)).Append("tokenizer").Append("dev-questions").ToList();
            if (stage.SoftLabelsFrom is { } soft) inputs.Add(soft == mentor?.CheckpointKey ? "checkpoint:mentor" : soft);
            if (stage.StartedFrom is { } from) inputs.Add(names.GetValueOrDefault(from, from));
            var producer = $"trainer job {stage.JobId}" + (stage.SoftLabelsVia is { } via ? $", soft labels {via}" : "");
            entries.Add(Entry($"checkpoint:{job}", stage.CheckpointKey, stage.CheckpointSha256, stage.CheckpointBytes, producer, inputs));
            names[stage.CheckpointKey] = $"checkpoint:{job}";
        }
        foreach (var (job, evaluation) in evaluations)
            entries.Add(Entry($"evaluation:{job}", evaluation.ReportKey, evaluation.ReportSha256, evaluation.ReportBytes, "evaluator", [$"checkpoint:{job}", "test-questions"]));
        return entries;
    }

    public static string Markdown(IReadOnlyList<LineageEntry> entries)
    {
        var text = new StringBuilder();
        text.AppendLine("## Lineage");
        text.AppendLine();
        text.AppendLine("| artefact | object | sha256 | made from | by |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var e in entries)
            text.AppendLine($"| {e.Name} | `{e.Object.Key}` | `{e.Object.Sha256[..Math.Min(12, e.Object.Sha256.Length)]}` | {string.Join(", ", e.DerivedFrom)} | {e.Producer} |");
        return text.ToString();
    }

    private static LineageEntry Entry(string name, string key, string sha256, long size, string producer, IEnumerable<string> derivedFrom)
    {
        var entry = new LineageEntry { Name = name, Object = new ObjectRef { Key = key, Sha256 = sha256, SizeBytes = size }, Producer = producer };
        entry.DerivedFrom.AddRange(derivedFrom);
        return entry;
    }
}
