using System.Text;
using System.Text.Json;
using MentorKd.Augmentation.Datasets;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Pipeline;
using MentorKd.Protos.V1;
using Question = MentorKd.Distillation.Data.Question;
using Rationale = MentorKd.Distillation.Data.Rationale;

namespace MentorKd.Augmentation.Runs;

// Retraining rounds (FDD-style feedback loop, Mentor-KD data): new questions for a completed run are annotated by the
// teacher, augmented by the mentor, and the Mentor-KD student is trained again on everything so far and evaluated.
public sealed partial class RunOrchestrator
{
    private async Task RunPendingRoundsAsync(RunConfig config, IReadOnlyList<Question> train, TrainingStage mentorJob, string baselineArm,
        TrainingStage baselineJob, EvaluationStage baselineEvaluation, CancellationToken cancellationToken)
    {
        while (true)
        {
            var requests = new List<RoundRequest>();
            await foreach (var info in store.ListAsync(_keys.RoundRequests, cancellationToken))
                if (await ReadJsonAsync<RoundRequest>(info.Key, cancellationToken) is { } request) requests.Add(request);
            var done = new List<RoundStage>();
            foreach (var request in requests)
                if (await _stages.FindAsync<RoundStage>(RoundStageName(request.Sha256), cancellationToken) is { } finished) done.Add(finished);
            var next = requests.Where(r => done.All(d => d.QuestionsSha256 != r.Sha256)).OrderBy(r => r.RequestedAt).FirstOrDefault();
            if (next is null) return;
            done.Sort((a, b) => a.Round.CompareTo(b.Round));
            var round = await RunRoundAsync(config, train, mentorJob, baselineArm, next, done, cancellationToken);
            await WriteRoundsReportAsync(new RoundStage(0, "", 0, train.Count, 0, 0, baselineJob.CheckpointKey, baselineEvaluation.Accuracy), [.. done, round], cancellationToken);
            await PublishAsync(new RetrainingRoundCompleted(run.RunId, round.Round, round.QuestionsSha256, round.CheckpointKey, round.TestAccuracy), cancellationToken);
        }
    }

    private async Task<RoundStage> RunRoundAsync(RunConfig config, IReadOnlyList<Question> train, TrainingStage mentorJob, string arm, RoundRequest request,
        IReadOnlyList<RoundStage> earlier, CancellationToken cancellationToken)
    {
        int number = earlier.Count + 1;
        var folder = _keys.Round(number);
        Enter(RunStatus.Retraining);
        _stage = $"round-{number}";
        Report(RunEventKind.StageStarted, $"retraining round {number}: questions from {request.Source} ({request.QuestionsKey})");

        // The round's questions get round-scoped ids, so they never collide with the run's or an earlier round's.
        // Repeats of the run's dev or test questions (possible in a bucket upload; the Runs API refuses them) are left out.
        var heldOut = await HeldOutQuestions.ReadAsync(store, registry, _keys, cancellationToken);
        var uploaded = await registry.ReadRowsAsync<Question>(request.QuestionsKey, cancellationToken);
        var added = uploaded.Where(q => heldOut.Find(q) is null).Select(q => q with { Id = $"round{number}-{q.Id}" }).ToList();
        if (added.Count < uploaded.Count)
            Report(RunEventKind.StageProgress, $"{uploaded.Count - added.Count} of {uploaded.Count} questions left out: they repeat the run's dev or test questions");
        if (added.Count == 0) throw new InvalidOperationException($"round {number}: every question in {request.QuestionsKey} repeats one of the run's dev or test questions.");
        var questionsKey = folder + "questions.jsonl";
        await registry.WriteRowsAsync(questionsKey, added, cancellationToken);
        var questions = await registry.RegisterAsync(_keys.DatasetId($"round{number}.questions"), DatasetRegistry.Questions, questionsKey, null, request.Source, allowEmpty: false, cancellationToken);

        var teacherKey = folder + "teacher-rationales.jsonl";
        var annotated = await AnnotateQuestionsAsync(config, $"round{number}", questionsKey, added.Count, teacherKey, cancellationToken);
        await registry.RegisterAsync(_keys.DatasetId($"round{number}.teacher"), DatasetRegistry.Rationales, teacherKey, questions.DatasetId,
            annotated.Teacher, allowEmpty: true, cancellationToken);

        await LoadMentorAsync(mentorJob, cancellationToken);
        var mentorKey = folder + "mentor-rationales.jsonl";
        var augmentation = await AugmentQuestionsAsync(config, $"round{number}", mentorJob.CheckpointKey, questions, _keys.DatasetId($"round{number}.mentor"), mentorKey, cancellationToken);

        // The student learns from everything so far: the run's questions and rationales, then every round's.
        var allQuestions = new List<Question>(train);
        var rationaleKeys = new List<string> { _keys.TeacherRationales, _keys.MentorRationales };
        for (int r = 1; r < number; r++)
        {
            allQuestions.AddRange(await registry.ReadRowsAsync<Question>(_keys.Round(r) + "questions.jsonl", cancellationToken));
            rationaleKeys.AddRange([_keys.Round(r) + "teacher-rationales.jsonl", _keys.Round(r) + "mentor-rationales.jsonl"]);
        }
        allQuestions.AddRange(added);
        rationaleKeys.AddRange([teacherKey, mentorKey]);
        var trainKey = folder + "train-questions.jsonl";
        await registry.WriteRowsAsync(trainKey, allQuestions, cancellationToken);

        var job = $"round{number}-{arm}";
        var soft = StudentArms.UsesSoftLabels(arm);
        var training = config.Student.Training with { KdMode = soft ? config.Student.Training.KdMode : Distillation.Training.KnowledgeDistillationMode.None };
        var student = await trainingJobs.TrainAsync(_keys, _stages, job, TrainingRole.Student, config.Student, training, config.ContextLength, rationaleKeys,
            soft ? SoftLabelsFrom(config, mentorJob) : null, mentorJob.CheckpointKey, Report, cancellationToken, trainKey);
        _stage = $"round-{number}";
        var evaluation = await EvaluateCheckpointAsync(job, student.CheckpointKey, training.EvalMaxNewTokens, training.EvalBatchSize, cancellationToken);

        var stage = new RoundStage(number, request.Sha256, added.Count, allQuestions.Count, annotated.Kept, augmentation.Correct,
            student.CheckpointKey, evaluation.Accuracy);
        await _stages.SaveAsync(RoundStageName(request.Sha256), stage, cancellationToken);
        _stage = $"round-{number}";
        Report(RunEventKind.StageCompleted, $"round {number}: {added.Count} questions added, student test accuracy {evaluation.Accuracy:P1}");
        Enter(RunStatus.Completed);
        return stage;
    }

    private static string RoundStageName(string sha256) => $"round-{sha256}";

    /// <summary>reports/rounds.json and rounds.md: every round so far next to the run's own student (round 0).</summary>
    private async Task WriteRoundsReportAsync(RoundStage baseline, IReadOnlyList<RoundStage> rounds, CancellationToken cancellationToken)
    {
        IReadOnlyList<RoundStage> all = [baseline, .. rounds];
        using (var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(all, JsonLines.Options)))
            await store.PutAsync(_keys.Rounds, json, cancellationToken);
        var text = new StringBuilder();
        text.AppendLine("# Retraining rounds");
        text.AppendLine();
        text.AppendLine("| round | questions added | training questions | teacher rationales kept | mentor rationales correct | student test accuracy |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var r in all)
            text.AppendLine($"| {r.Round} | {r.QuestionsAdded} | {r.TrainQuestions} | {r.TeacherKept} | {r.MentorCorrect} | {r.TestAccuracy:P1} |");
        using var markdown = new MemoryStream(Encoding.UTF8.GetBytes(text.ToString()));
        await store.PutAsync(_keys.RoundsReport, markdown, cancellationToken);
    }

    private async Task<T?> ReadJsonAsync<T>(string key, CancellationToken cancellationToken) where T : class
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer, cancellationToken);
        return JsonSerializer.Deserialize<T>(buffer.ToArray(), JsonLines.Options);
    }
}
