using System.Text;
using System.Text.Json;
using MassTransit;
using MentorKd.Augmentation.Datasets;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Training;
using MentorKd.Protos.V1;
using Question = MentorKd.Distillation.Data.Question;
using Rationale = MentorKd.Distillation.Data.Rationale;

namespace MentorKd.Augmentation.Runs;

// Retraining rounds (FDD-style feedback loop, Mentor-KD data): new questions for a run are annotated by the teacher,
// augmented by the mentor, and the run's Mentor-KD student is trained again on everything so far and evaluated.
public sealed partial class RunSteps
{
    /// <summary>New questions for a run: recorded as a round request under the run, keyed by the questions' content
    /// hash (the same questions announced twice make one request). False when the run does not exist.</summary>
    public async Task<bool> AcceptQuestionsAsync(BehaviorContext<RunState, RunQuestionsAdded> context)
    {
        var (run, message, token) = (context.Saga, context.Message, context.CancellationToken);
        var keys = Keys(run);
        if (await store.StatAsync(keys.Config, token) is null)
        {
            logger.LogWarning("Questions {Key} name run {Run}, which does not exist; ignored", message.QuestionsKey, keys.Id);
            return false;
        }
        if (run.ConfigKey.Length == 0)
        {
            // The run is not held here (this process started after it ended): it is taken up again from its stored config.
            run.ConfigKey = keys.Config;
            run.Name = (await ConfigAsync(run, token)).Name;
            run.SubmittedAt = DateTime.UtcNow;
        }
        var requestKey = keys.RoundRequest(message.Sha256);
        if (await store.StatAsync(requestKey, token) is null)
        {
            var request = new RoundRequest(message.QuestionsKey, message.Sha256, message.Source, DateTime.UtcNow);
            using var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(request, JsonLines.Options));
            await store.PutAsync(requestKey, json, token);
            logger.LogInformation("Run {Run}: retraining round requested with {Key} ({Source})", keys.Id, message.QuestionsKey, message.Source);
        }
        else logger.LogInformation("Run {Run}: questions {Sha} were already added; no new round", keys.Id, message.Sha256);
        return true;
    }

    /// <summary>The oldest round request without a finished round, started: its questions (repeats of the run's dev or
    /// test questions left out, ids scoped to the round) go to the teacher. No request left: the next FDD round, if the
    /// run's method has one to do (<see cref="RunState.Fdd"/>); else <see cref="RunState.Round"/> and it stay null.</summary>
    public async Task StartNextRoundAsync(BehaviorContext<RunState> context)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var keys = Keys(run);
        run.Round = null;
        var requests = new List<RoundRequest>();
        await foreach (var info in store.ListAsync(keys.RoundRequests, token))
            if (JsonSerializer.Deserialize<RoundRequest>(await ReadTextAsync(info.Key, token), JsonLines.Options) is { } request) requests.Add(request);
        int done = 0;
        var waiting = new List<RoundRequest>();
        foreach (var request in requests.OrderBy(r => r.RequestedAt))
            if (await Records(run).FindAsync<RoundStage>(RoundStageName(request.Sha256), token) is not null) done++;
            else if (await Records(run).FindAsync<RoundRequest>(RefusedRoundName(request.Sha256), token) is null) waiting.Add(request);
        if (waiting.Count == 0)
        {
            await StartFddRoundAsync(context);
            return;
        }
        var heldOut = await HeldOutQuestions.ReadAsync(store, registry, keys, token);
        int number = done + 1;
        foreach (var next in waiting)
        {
            // The round's questions get round-scoped ids, so they never collide with the run's or an earlier round's.
            // Repeats of the run's dev or test questions (possible in a bucket upload; the Runs API refuses them) are left out.
            var uploaded = await registry.ReadRowsAsync<Question>(next.QuestionsKey, token);
            var added = uploaded.Where(q => heldOut.Find(q) is null).Select(q => q with { Id = $"round{number}-{q.Id}" }).ToList();
            if (added.Count == 0)
            {
                // Nothing to train on: the request is set aside (recorded, so it is not tried again), and the next one goes.
                await Records(run).SaveAsync(RefusedRoundName(next.Sha256), next, token);
                logger.LogWarning("Run {Run}: questions {Key} left out, every one repeats one of the run's dev or test questions; no round", keys.Id, next.QuestionsKey);
                continue;
            }
            feeds.Begin(run.CorrelationId);
            run.Stage = $"round-{number}";
            await unfinished.MarkAsync(run.CorrelationId, token);
            Report(run, RunEventKind.StageStarted, $"retraining round {number}: questions from {next.Source} ({next.QuestionsKey})");
            if (added.Count < uploaded.Count)
                Report(run, RunEventKind.StageProgress, $"{uploaded.Count - added.Count} of {uploaded.Count} questions left out: they repeat the run's dev or test questions");
            var round = new RoundWork(number, next, keys.Round(number) + "questions.jsonl", added.Count);
            await registry.WriteRowsAsync(round.QuestionsKey, added, token);
            await registry.RegisterAsync(keys.DatasetId($"{round.Name}.questions"), DatasetRegistry.Questions, round.QuestionsKey, null, next.Source, allowEmpty: false, token);
            run.Round = round;
            await SendAnnotationAsync(context, await ConfigAsync(run, token), round.Name, round.QuestionsKey, added.Count, keys.Round(number) + "teacher-rationales.jsonl");
            return;
        }
        // No questions waiting: an FDD run writes its own, where its student is weak.
        await StartFddRoundAsync(context);
    }

    public async Task RoundAnnotatedAsync(BehaviorContext<RunState, QuestionsAnnotated> context)
    {
        var (run, outcome, token) = (context.Saga, context.Message, context.CancellationToken);
        var (keys, round) = (Keys(run), run.Round!);
        if (outcome.Error.Length > 0) throw new InvalidOperationException($"teacher annotation: {outcome.Error}");
        await registry.RegisterAsync(keys.DatasetId($"{round.Name}.teacher"), DatasetRegistry.Rationales, outcome.OutputKey, keys.DatasetId($"{round.Name}.questions"),
            outcome.Teacher, allowEmpty: true, token);
        run.Round = round with { TeacherKept = outcome.Kept, TeacherRequests = outcome.Usage?.Requests ?? 0 };
    }

    /// <summary>The mentor samples rationales for the round's questions.</summary>
    public async Task SendRoundAugmentationAsync(BehaviorContext<RunState> context)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var (keys, round) = (Keys(run), run.Round!);
        var questions = await registry.FindAsync(keys.DatasetId($"{round.Name}.questions"), token)
            ?? throw new InvalidOperationException($"dataset {keys.DatasetId($"{round.Name}.questions")} is missing from the registry.");
        await SendAugmentationAsync(context, await ConfigAsync(run, token), round.Name, questions, keys.DatasetId($"{round.Name}.mentor"),
            keys.Round(round.Number) + "mentor-rationales.jsonl");
    }

    /// <summary>No mentor: an empty mentor set for the round (every round reads the same inputs), and the student trains.</summary>
    public async Task SkipRoundAugmentationAsync(BehaviorContext<RunState> context)
    {
        var (keys, round) = (Keys(context.Saga), context.Saga.Round!);
        await registry.WriteRowsAsync(keys.Round(round.Number) + "mentor-rationales.jsonl", Array.Empty<Rationale>(), context.CancellationToken);
        await SendRoundTrainingAsync(context, mentorCorrect: 0);
    }

    public async Task RoundAugmentedAsync(BehaviorContext<RunState, QuestionsAugmented> context)
    {
        if (context.Message.Error.Length > 0) throw new InvalidOperationException($"mentor augmentation: {context.Message.Error}");
        await SendRoundTrainingAsync(context, context.Message.Correct);
    }

    /// <summary>The round's rationales are in: the student learns from everything so far (the run's questions and
    /// rationales, then its earlier rounds'; the mentor's only for an arm that learns from them).</summary>
    private async Task SendRoundTrainingAsync(BehaviorContext<RunState> context, int mentorCorrect)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var (keys, round) = (Keys(run), run.Round!);
        var config = await ConfigAsync(run, token);
        var arm = BaselineArm(config);
        bool augmented = StudentArms.UsesMentorRationales(arm);
        var allQuestions = new List<Question>(await registry.ReadRowsAsync<Question>(keys.TrainQuestions, token));
        var rationaleKeys = new List<string> { keys.TeacherRationales };
        if (augmented) rationaleKeys.Add(keys.MentorRationales);
        // Earlier rounds of this round's student (an FDD baseline round leaves FDD's problems out, and the other way round).
        var earlier = (await RoundRecordsAsync(run, token)).Where(r => r.Round < round.Number && RoundTracks.Teaches(r.Track, round.Request.Track));
        foreach (int r in earlier.Select(r => r.Round).Append(round.Number))
        {
            allQuestions.AddRange(await registry.ReadRowsAsync<Question>(keys.Round(r) + "questions.jsonl", token));
            rationaleKeys.Add(keys.Round(r) + "teacher-rationales.jsonl");
            if (augmented) rationaleKeys.Add(keys.Round(r) + "mentor-rationales.jsonl");
        }
        var trainKey = keys.Round(round.Number) + "train-questions.jsonl";
        await registry.WriteRowsAsync(trainKey, allQuestions, token);
        run.Round = round with { TrainQuestions = allQuestions.Count, MentorCorrect = mentorCorrect };

        var soft = StudentArms.UsesSoftLabels(arm);
        var training = config.Student.Training with { KdMode = soft ? config.Student.Training.KdMode : KnowledgeDistillationMode.None };
        // FDD may continue each arm's student of the round before instead of starting again from random weights.
        var startFrom = round.Request.Track is RoundTracks.Fdd or RoundTracks.FddBaseline && config.Fdd.Retrain == FddRetraining.Continue
            ? (await LatestStudentAsync(run, config, round.Request.Track, token)).CheckpointKey
            : null;
        await SendTrainingAsync(context, RoundJob(round, arm), TrainingRole.Student, config.Student, training, config.ContextLength, rationaleKeys,
            soft ? SoftLabelsFrom(config, run, RoundJob(round, arm)) : null, trainKey, startFrom);
    }

    public async Task RoundTrainedAsync(BehaviorContext<RunState, TrainingJobEnded> context)
    {
        var run = context.Saga;
        await SaveTrainingAsync(context);
        run.Stage = $"round-{run.Round!.Number}";
        await SendEvaluationAsync(context, RoundJob(run.Round, BaselineArm(await ConfigAsync(run, context.CancellationToken))),
            (await ConfigAsync(run, context.CancellationToken)).Student.Training);
    }

    /// <summary>The retrained student is evaluated: the round is recorded, and reports/rounds.* list every round so far.</summary>
    public async Task RoundEvaluatedAsync(BehaviorContext<RunState, CheckpointEvaluated> context)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var round = run.Round!;
        var evaluation = await SaveEvaluationAsync(context);
        var config = await ConfigAsync(run, token);
        var student = await TrainingRecordAsync(run, RoundJob(round, BaselineArm(config)), token);
        var stage = new RoundStage(round.Number, round.Request.Sha256, round.QuestionsAdded, round.TrainQuestions, round.TeacherKept, round.MentorCorrect,
            student.CheckpointKey, evaluation.Accuracy, student.DevAccuracy, round.TeacherRequests, round.Request.Track);
        await Records(run).SaveAsync(RoundStageName(round.Request.Sha256), stage, token);
        await WriteRoundsReportAsync(run, config, token);
        run.Stage = $"round-{round.Number}";
        Report(run, RunEventKind.StageCompleted, $"round {round.Number}: {round.QuestionsAdded} questions added, student test accuracy {evaluation.Accuracy:P1}");
        run.RetrainingRounds = Math.Max(run.RetrainingRounds, round.Number);
        await context.Publish(new RetrainingRoundCompleted(run.CorrelationId, round.Number, stage.QuestionsSha256, stage.CheckpointKey, stage.TestAccuracy), token);
    }

    /// <summary>A round that fails leaves the run completed (its own students stand); the failure is recorded on the run.</summary>
    public async Task RoundFailedAsync(BehaviorContext<RunState> context, Exception error)
    {
        var run = context.Saga;
        logger.LogError(error, "Run {Run}: {Stage} failed", run.CorrelationId, run.Stage);
        (run.FailedStage, run.FailureReason, run.Round) = (run.Stage, error.Message, null);
        await CancelTrainingAsync(context, "the retraining round failed");
        await BestEffortAsync(run, "publishing RunFailed", () => context.Publish(new RunFailed(run.CorrelationId, run.Stage, error.Message), CancellationToken.None));
        await BestEffortAsync(run, "clearing the unfinished marker", () => unfinished.ClearAsync(run.CorrelationId, CancellationToken.None));
        await EndAsync(run, RunStatus.Failed, $"{run.Stage}: {error.Message}", runStatus: RunStatus.Completed);
    }

    private static string BaselineArm(RunConfig config) => config.Arms.Contains(StudentArms.MentorKd) ? StudentArms.MentorKd : config.Arms[0];

    private static string RoundJob(RoundWork round, string arm) => $"{round.Name}-{arm}";

    private static string RoundStageName(string sha256) => $"round-{sha256}";

    private static string RefusedRoundName(string sha256) => $"round-refused-{sha256}";

    /// <summary>reports/rounds.json and rounds.md: every round so far next to the run's own student (round 0).</summary>
    private async Task WriteRoundsReportAsync(RunState run, RunConfig config, CancellationToken cancellationToken)
    {
        var keys = Keys(run);
        var arm = BaselineArm(config);
        var baselineJob = await TrainingRecordAsync(run, arm, cancellationToken);
        var baselineEvaluation = await Records(run).FindAsync<EvaluationStage>($"evaluation-{arm}", cancellationToken)
            ?? throw new InvalidOperationException($"the evaluation of {arm} has no record.");
        var train = await registry.FindAsync(keys.DatasetId("train"), cancellationToken);
        var rounds = new List<RoundStage> { new(0, "", 0, train?.Rows ?? 0, 0, 0, baselineJob.CheckpointKey, baselineEvaluation.Accuracy, baselineJob.DevAccuracy) };
        await foreach (var info in store.ListAsync(keys.RoundRequests, cancellationToken))
        {
            var request = JsonSerializer.Deserialize<RoundRequest>(await ReadTextAsync(info.Key, cancellationToken), JsonLines.Options)!;
            if (await Records(run).FindAsync<RoundStage>(RoundStageName(request.Sha256), cancellationToken) is { } finished) rounds.Add(finished);
        }
        rounds.Sort((a, b) => a.Round.CompareTo(b.Round));
        using (var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(rounds, JsonLines.Options)))
            await store.PutAsync(keys.Rounds, json, cancellationToken);
        var text = new StringBuilder();
        text.AppendLine("# Retraining rounds");
        text.AppendLine();
        text.AppendLine("| round | questions | questions added | training questions | teacher rationales kept | mentor rationales correct | student test accuracy |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var r in rounds)
            text.AppendLine($"| {r.Round} | {(r.Round == 0 ? "the run's" : r.Track)} | {r.QuestionsAdded} | {r.TrainQuestions} | {r.TeacherKept} | {r.MentorCorrect} | {r.TestAccuracy:P1} |");
        if (RunMethods.UsesFdd(config.Method)) await WriteFddReportAsync(run, config, rounds, text, cancellationToken);
        using var markdown = new MemoryStream(Encoding.UTF8.GetBytes(text.ToString()));
        await store.PutAsync(keys.RoundsReport, markdown, cancellationToken);
    }
}
