using System.Text;
using System.Text.Json;
using Google.Protobuf;
using MentorKd.Augmentation.Datasets;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Training;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.Options;
using Rationale = MentorKd.Distillation.Data.Rationale;

namespace MentorKd.Augmentation.Runs;

/// <summary>A finished run's report under runs/{id}/reports/: results.json, report.md (with the lineage), lineage.json
/// and the learning curves, the same report the one-process pipeline writes.</summary>
public sealed class RunReportWriter(IObjectStore store, DatasetRegistry registry, IOptions<AugmentationOptions> options)
{
    /// <summary>Results as written by <see cref="WriteAsync"/>; computed members written alongside are skipped on reading.</summary>
    public static readonly JsonSerializerOptions ResultsJson = new(RunConfig.Json) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip };

    public async Task<RunResults> WriteAsync(RunKeys keys, RunConfig config, DataStage data, DatasetPreparation.Splits splits, TeacherStage teacher,
        TrainingStage? mentor, AugmentationStage augmentation, IReadOnlyList<(string Arm, TrainingStage Job)> students,
        IReadOnlyDictionary<string, EvaluationStage> evaluations, CancellationToken cancellationToken)
    {
        var teacherRationales = await registry.ReadRowsAsync<Rationale>(keys.TeacherRationales, cancellationToken);
        var mentorRationales = await registry.ReadRowsAsync<Rationale>(keys.MentorRationales, cancellationToken);
        var arms = new List<ArmResult>();
        foreach (var (arm, job) in students)
            arms.Add(new ArmResult(arm, job.Examples, await ReadOutcomeAsync(job, cancellationToken), evaluations[arm].Accuracy));
        var results = new RunResults
        {
            Name = config.Name,
            Task = config.Task.Name,
            Teacher = teacher.Teacher,
            TrainQuestions = data.Train,
            DevQuestions = data.Dev,
            TestQuestions = data.Test,
            Annotation = AnnotationSummary.Of(teacherRationales),
            // LLM teachers only: an offline teacher's "calls" are its questions, and its tokens whitespace words.
            TeacherCalls = teacher.Usage is { } usage && teacher.Prompt.Length > 0
                ? new TeacherCallSummary(teacher.Prompt, usage.Requests, usage.Attempts, usage.PromptTokens, usage.CompletionTokens, usage.CacheHits,
                    teacherRationales.Count(r => r.Problem is not null), teacher.Failed, usage.Cost)
                : null,
            MentorParameters = mentor?.Parameters,
            StudentParameters = students.Count > 0 ? students[0].Job.Parameters : 0,
            Mentor = mentor is null ? null : await ReadOutcomeAsync(mentor, cancellationToken),
            MentorTestAccuracy = mentor is null ? null : evaluations[RunSteps.MentorJob].Accuracy,
            // Only correct samples are stored; the stage counted every sample drawn.
            Augmentation = AugmentationSummary.Of(splits.Train, teacherRationales, mentorRationales) with { Samples = augmentation.Samples },
            Arms = arms,
            Seconds = (DateTime.UtcNow - data.StartedAt).TotalSeconds,
        };

        var tokenizer = await new RunStageRecords(store, keys).FindAsync<TokenizerStage>("tokenizer", cancellationToken)
            ?? throw new InvalidOperationException("the tokenizer stage has no record.");
        var pretrained = new List<PretrainedStage>();
        foreach (var role in new[] { PretrainedModels.Mentor, PretrainedModels.Student })
            if (await new RunStageRecords(store, keys).FindAsync<PretrainedStage>(PretrainedModels.StageName(role), cancellationToken) is { } stage) pretrained.Add(stage);
        var lineage = await RunLineage.CollectAsync(keys, registry, pretrained, tokenizer, mentor, students, evaluations, cancellationToken);

        // The report is composed in a local folder by the library's writers, then stored object by object.
        var folder = new ReportFolder(Path.Combine(options.Value.WorkRoot, keys.Id, "report"));
        if (Directory.Exists(folder.Root)) Directory.Delete(folder.Root, recursive: true);
        Directory.CreateDirectory(folder.Root);
        File.WriteAllText(folder.Results, JsonSerializer.Serialize(results, RunConfig.Json));
        Distillation.Pipeline.RunReport.Write(folder, config, results);
        File.AppendAllText(folder.Report, Environment.NewLine + RunLineage.Markdown(lineage));
        File.WriteAllText(Path.Combine(folder.Root, "lineage.json"), "[" + string.Join(",\n", lineage.Select(e => JsonFormatter.Default.Format(e))) + "]\n");
        LearningCurves.Write(folder, results);
        // report.md goes last: its presence marks a complete report.
        foreach (var file in Directory.EnumerateFiles(folder.Root).OrderBy(f => f == folder.Report))
        {
            await using var stream = File.OpenRead(file);
            await store.PutAsync(keys.Reports + Path.GetFileName(file), stream, cancellationToken);
        }
        return results;
    }

    private async Task<TrainingOutcome> ReadOutcomeAsync(TrainingStage job, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(job.OutcomeKey, buffer, cancellationToken);
        return JsonSerializer.Deserialize<TrainingOutcome>(buffer.ToArray(), ResultsJson)
            ?? throw new InvalidDataException($"{job.OutcomeKey} holds no training outcome.");
    }

    public async Task<RunResults> ReadResultsAsync(RunKeys keys, CancellationToken cancellationToken) =>
        JsonSerializer.Deserialize<RunResults>(await ReadBytesAsync(keys.Results, cancellationToken), ResultsJson)
            ?? throw new InvalidDataException($"{keys.Results} holds no results.");

    /// <summary>The report as the Runs API returns it, read back from the store.</summary>
    public async Task<Protos.V1.RunReport?> ReadAsync(RunKeys keys, CancellationToken cancellationToken)
    {
        var reportInfo = await store.StatAsync(keys.Report, cancellationToken);
        if (reportInfo is null) return null;
        var resultsInfo = await store.StatAsync(keys.Results, cancellationToken);
        var results = await ReadResultsAsync(keys, cancellationToken);
        var report = new Protos.V1.RunReport
        {
            RunId = keys.Id,
            Markdown = Encoding.UTF8.GetString(await ReadBytesAsync(keys.Report, cancellationToken)),
            Report = new ObjectRef { Key = reportInfo.Key, Sha256 = reportInfo.Sha256, SizeBytes = reportInfo.Size },
            Results = new ObjectRef { Key = resultsInfo!.Key, Sha256 = resultsInfo.Sha256, SizeBytes = resultsInfo.Size },
            MentorTestAccuracy = results.MentorTestAccuracy ?? 0,
        };
        report.Arms.AddRange(results.Arms.Select(a => new ArmAccuracy
        {
            Arm = a.Arm, Title = a.Title, Examples = a.Examples, TestAccuracy = a.TestAccuracy,
            BestTestEpochAccuracy = a.Outcome.BestTest.TestAccuracy, SelectedEpoch = a.Outcome.DevSelected.Epoch,
        }));
        if (await store.StatAsync(keys.Rounds, cancellationToken) is not null)
        {
            var rounds = JsonSerializer.Deserialize<List<RoundStage>>(await ReadBytesAsync(keys.Rounds, cancellationToken), Distillation.Data.JsonLines.Options)!;
            report.Rounds.AddRange(rounds.Where(r => r.Round > 0).Select(r => new RoundSummary
            {
                Round = r.Round, QuestionsAdded = r.QuestionsAdded, TrainQuestions = r.TrainQuestions, TeacherKept = r.TeacherKept,
                MentorCorrect = r.MentorCorrect, StudentTestAccuracy = r.TestAccuracy, CheckpointKey = r.CheckpointKey, QuestionsSha256 = r.QuestionsSha256,
                Track = r.Track, StudentDevAccuracy = r.DevAccuracy, TeacherRequests = r.TeacherRequests,
            }));
        }
        if (await store.StatAsync(keys.FddRounds, cancellationToken) is not null)
        {
            var rows = JsonSerializer.Deserialize<List<FddRoundRow>>(await ReadBytesAsync(keys.FddRounds, cancellationToken), Distillation.Data.JsonLines.Options)!;
            report.FddRounds.AddRange(rows.Select(r => new FddRoundSummary
            {
                Round = r.Stage.Fdd, Pool = r.Stage.Pool, Easy = r.Stage.Easy, Hard = r.Stage.Hard, HarderAccepted = r.Stage.HarderAccepted,
                SimilarAccepted = r.Stage.SimilarAccepted, Rejected = r.Stage.Rejected, TeacherRequests = r.Stage.TeacherRequests + (r.Fdd?.TeacherRequests ?? 0),
                StudentDevAccuracy = r.Fdd?.DevAccuracy ?? 0, StudentTestAccuracy = r.Fdd?.TestAccuracy ?? 0, BaselineAccepted = r.Stage.BaselineAccepted,
                BaselineTeacherRequests = r.Stage.BaselineTeacherRequests + (r.Baseline?.TeacherRequests ?? 0),
                BaselineDevAccuracy = r.Baseline?.DevAccuracy ?? 0, BaselineTestAccuracy = r.Baseline?.TestAccuracy ?? 0,
            }));
        }
        await foreach (var plot in store.ListAsync(keys.Reports, cancellationToken))
            if (plot.Key.EndsWith(".png", StringComparison.Ordinal))
                report.Plots.Add(new ObjectRef { Key = plot.Key, Sha256 = plot.Sha256, SizeBytes = plot.Size });
        using var lineage = JsonDocument.Parse(await ReadBytesAsync(keys.Lineage, cancellationToken));
        report.Lineage.AddRange(lineage.RootElement.EnumerateArray().Select(e => LineageEntry.Parser.ParseJson(e.GetRawText())));
        return report;
    }

    private async Task<byte[]> ReadBytesAsync(string key, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer, cancellationToken);
        return buffer.ToArray();
    }
}
