using System.Security.Cryptography;
using System.Text.Json;
using MassTransit;
using MentorKd.Augmentation.Datasets;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Evaluation;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Teachers;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults.Messaging;
using EvaluatedExample = MentorKd.Distillation.Evaluation.EvaluatedExample;
using Question = MentorKd.Distillation.Data.Question;
using SynthesizedProblem = MentorKd.Distillation.Teachers.SynthesizedProblem;

namespace MentorKd.Augmentation.Runs;

// Feedback-driven distillation (FDD) rounds: the current student is evaluated on the pool, easy problems (answered
// right) get harder variations and hard ones similar problems from the teacher-gateway, and the accepted problems
// become a retraining round like any other (teacher annotation, mentor augmentation, the student trained again).
public sealed partial class RunSteps
{
    /// <summary>The next FDD round, when the run's method has them and none of its stopping rules holds: the pool is
    /// written and the latest student sent to the evaluators on it. Otherwise <see cref="RunState.Fdd"/> stays null.</summary>
    private async Task StartFddRoundAsync(BehaviorContext<RunState> context)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        run.Fdd = null;
        var config = await ConfigAsync(run, token);
        if (!RunMethods.UsesFdd(config.Method)) return;
        var keys = Keys(run);
        var finished = await FddRoundsAsync(run, config.Fdd.Rounds, token);
        int number = finished.Count + 1;
        if (number > config.Fdd.Rounds || finished.Any(f => f.Round == 0)) return; // all done, or a round found nothing new to write
        if (await FddStopReasonAsync(run, config, finished, token) is { } reason)
        {
            Report(run, $"fdd-{number}", RunEventKind.StageCompleted, $"FDD stops before round {number}: {reason}");
            return;
        }

        var pool = new List<Question>(await registry.ReadRowsAsync<Question>(keys.TrainQuestions, token));
        if (config.Fdd.Pool == FddPools.SeedAndLastRound && finished.Count > 0)
            pool.AddRange(await registry.ReadRowsAsync<Question>(finished[^1].QuestionsKey, token));
        if (config.Fdd.PoolSample is { } sample && sample < pool.Count)
        {
            var random = new Random(config.Seed * 31 + number); // a different, reproducible draw each round
            pool = pool.OrderBy(_ => random.Next()).Take(sample).ToList();
        }
        var work = new FddWork(number, keys.Fdd(number) + "pool.jsonl", pool.Count);
        await registry.WriteRowsAsync(work.PoolKey, pool, token);

        feeds.Begin(run.CorrelationId);
        run.Stage = $"fdd-{number}";
        await unfinished.MarkAsync(run.CorrelationId, token);
        var student = await LatestStudentAsync(run, config, token);
        Report(run, RunEventKind.StageStarted, $"FDD round {number}: the student answers {pool.Count} pool problems (easy: right, hard: wrong)");
        var request = new EvaluateRequest
        {
            CheckpointKey = student.CheckpointKey, DatasetKey = work.PoolKey, MaxNewTokens = config.Student.Training.EvalMaxNewTokens,
            BatchSize = config.Student.Training.EvalBatchSize, ReportKey = keys.Fdd(number) + "pool-answers.jsonl",
        };
        run.Fdd = work;
        run.PendingEvaluations.Add($"{work.Name}-pool");
        await context.SendToQueueAsync(EvaluateCheckpoint.Queue, EvaluateCheckpoint.For(keys.EvaluationId($"{work.Name}-pool"), request), token);
    }

    /// <summary>The student's answers on the pool are in: easy and hard problems go to the teacher-gateways as harder and
    /// similar syntheses (checked against the dev and test questions and everything already trained on).</summary>
    public async Task PoolClassifiedAsync(BehaviorContext<RunState, CheckpointEvaluated> context)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var (keys, work) = (Keys(run), run.Fdd!);
        run.PendingEvaluations.Remove($"{work.Name}-pool");
        if (context.Message.Error.Length > 0) throw new InvalidOperationException($"classifying the pool: {context.Message.Error}");
        var config = await ConfigAsync(run, token);
        var answers = await registry.ReadRowsAsync<EvaluatedExample>(context.Message.ReadReport().Report.Key, token);
        var right = answers.Where(a => a.Correct).Select(a => a.QuestionId).ToHashSet();
        var pool = await registry.ReadRowsAsync<Question>(work.PoolKey, token);
        var (easy, hard) = (pool.Where(q => right.Contains(q.Id)).ToList(), pool.Where(q => !right.Contains(q.Id)).ToList());
        run.Fdd = work with { Easy = easy.Count, Hard = hard.Count };
        Report(run, RunEventKind.StageProgress, $"FDD round {work.Number}: {easy.Count} easy, {hard.Count} hard");

        var heldOut = new List<string> { keys.DevQuestions, keys.TestQuestions, keys.TrainQuestions };
        foreach (var done in await FddRoundsAsync(run, work.Number - 1, token)) heldOut.Add(done.QuestionsKey);
        foreach (var (mode, questions, perQuestion) in new[] { ("harder", easy, config.Fdd.HarderPerEasy), ("similar", hard, config.Fdd.SimilarPerHard) })
        {
            if (questions.Count == 0 || perQuestion == 0) continue;
            var name = $"{work.Name}-{mode}";
            var inputKey = keys.Fdd(work.Number) + $"{(mode == "harder" ? "easy" : "hard")}.jsonl";
            await registry.WriteRowsAsync(inputKey, questions, token);
            run.PendingSyntheses.Add(name);
            await context.SendToQueueAsync(SynthesizeProblems.Queue, new SynthesizeProblems(keys.SynthesisId(name), inputKey, mode, perQuestion, heldOut,
                keys.Fdd(work.Number) + $"{mode}-problems.jsonl", config.Teacher.GatewayTeacher, config.Fdd.VerifySamples), token);
        }
        if (run.PendingSyntheses.Count == 0) await FinishFddRoundAsync(context, []);
    }

    /// <summary>A synthesis is in; when the last is, the accepted problems become the round's new questions.</summary>
    public async Task ProblemsSynthesizedAsync(BehaviorContext<RunState, ProblemsSynthesized> context)
    {
        var (run, outcome, token) = (context.Saga, context.Message, context.CancellationToken);
        var name = Keys(run).JobName(outcome.SynthesisId, "synthesis-");
        run.PendingSyntheses.Remove(name);
        if (outcome.Error.Length > 0) throw new InvalidOperationException($"problem synthesis ({name}): {outcome.Error}");
        var work = run.Fdd!;
        run.Fdd = name.EndsWith("-harder", StringComparison.Ordinal)
            ? work with { HarderAccepted = outcome.Accepted, Rejected = work.Rejected + outcome.Rejected, TeacherRequests = work.TeacherRequests + (outcome.Usage?.Requests ?? 0) }
            : work with { SimilarAccepted = outcome.Accepted, Rejected = work.Rejected + outcome.Rejected, TeacherRequests = work.TeacherRequests + (outcome.Usage?.Requests ?? 0) };
        Report(run, RunEventKind.StageProgress, $"FDD round {work.Number}: {outcome.Accepted} {name[(work.Name.Length + 1)..]} problems accepted, {outcome.Rejected} rejected");
        if (run.PendingSyntheses.Count > 0) return;

        var problems = new List<Question>();
        foreach (var mode in new[] { "harder", "similar" })
        {
            var key = Keys(run).Fdd(work.Number) + $"{mode}-problems.jsonl";
            if (await store.StatAsync(key, token) is not null)
                problems.AddRange((await registry.ReadRowsAsync<SynthesizedProblem>(key, token)).Select(p => p.Question));
        }
        await FinishFddRoundAsync(context, problems);
    }

    /// <summary>The round's new problems are recorded and asked for as a retraining round, which starts at once; with none,
    /// FDD ends here.</summary>
    private async Task FinishFddRoundAsync(BehaviorContext<RunState> context, IReadOnlyList<Question> problems)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var (keys, work) = (Keys(run), run.Fdd!);
        run.Fdd = null;
        var questionsKey = keys.Fdd(work.Number) + "new-questions.jsonl";
        await registry.WriteRowsAsync(questionsKey, problems, token);
        int retrainingRound = problems.Count == 0 ? 0 : (await RoundRecordsAsync(run, token)).Count + 1;
        await Records(run).SaveAsync(FddStageName(work.Number), new FddRoundStage(work.Number, retrainingRound, work.Pool, work.Easy, work.Hard,
            work.HarderAccepted, work.SimilarAccepted, work.Rejected, work.TeacherRequests, questionsKey), token);
        if (problems.Count == 0)
        {
            Report(run, RunEventKind.StageCompleted, $"FDD round {work.Number}: no new problem was accepted; FDD ends");
            await WriteRoundsReportAsync(run, await ConfigAsync(run, token), token);
            return;
        }
        var sha = Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(problems, JsonLines.Options)));
        var request = new RoundRequest(questionsKey, sha, $"FDD round {work.Number}: {work.HarderAccepted} harder, {work.SimilarAccepted} similar", DateTime.UtcNow);
        using (var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(request, JsonLines.Options)))
            await store.PutAsync(keys.RoundRequest(sha), json, token);
        await StartNextRoundAsync(context);
    }

    /// <summary>The FDD rounds whose problems were written, in order (up to <paramref name="last"/>).</summary>
    private async Task<List<FddRoundStage>> FddRoundsAsync(RunState run, int last, CancellationToken cancellationToken)
    {
        var rounds = new List<FddRoundStage>();
        for (int k = 1; k <= last; k++)
            if (await Records(run).FindAsync<FddRoundStage>(FddStageName(k), cancellationToken) is { } stage) rounds.Add(stage);
            else break;
        return rounds;
    }

    /// <summary>Why no further FDD round should start: the student's dev accuracy has not improved for the configured
    /// number of rounds, or the rounds have spent the teacher-call budget. Null: carry on.</summary>
    private async Task<string?> FddStopReasonAsync(RunState run, RunConfig config, IReadOnlyList<FddRoundStage> finished, CancellationToken cancellationToken)
    {
        var all = await RoundRecordsAsync(run, cancellationToken);
        var rounds = finished.Select(f => all.FirstOrDefault(r => r.Round == f.Round)).OfType<RoundStage>().ToList();
        long spent = finished.Sum(f => f.TeacherRequests) + rounds.Sum(r => r.TeacherRequests);
        if (config.Fdd.TeacherCallBudget is { } budget && spent >= budget)
            return $"the teacher-call budget is spent ({spent} of {budget} requests)";
        if (config.Fdd.Patience is { } patience && rounds.Count >= patience)
        {
            var baseline = await TrainingRecordAsync(run, BaselineArm(config), cancellationToken);
            var dev = new List<double> { baseline.DevAccuracy };
            dev.AddRange(rounds.Select(r => r.DevAccuracy));
            if (dev.TakeLast(patience).Max() <= dev.SkipLast(patience).Max())
                return $"the student's dev accuracy has not improved for {patience} rounds ({string.Join(", ", dev.Select(d => d.ToString("P1")))})";
        }
        return null;
    }

    /// <summary>The student the next feedback is about: the last retraining round's, or the run's own.</summary>
    private async Task<TrainingStage> LatestStudentAsync(RunState run, RunConfig config, CancellationToken cancellationToken)
    {
        var rounds = await RoundRecordsAsync(run, cancellationToken);
        return await TrainingRecordAsync(run, rounds.Count == 0 ? BaselineArm(config) : $"round{rounds.Max(r => r.Round)}-{BaselineArm(config)}", cancellationToken);
    }

    /// <summary>The run's finished retraining rounds (user-asked and FDD), in order.</summary>
    private async Task<List<RoundStage>> RoundRecordsAsync(RunState run, CancellationToken cancellationToken)
    {
        var rounds = new List<RoundStage>();
        await foreach (var info in store.ListAsync(Keys(run).RoundRequests, cancellationToken))
        {
            var request = JsonSerializer.Deserialize<RoundRequest>(await ReadTextAsync(info.Key, cancellationToken), JsonLines.Options)!;
            if (await Records(run).FindAsync<RoundStage>(RoundStageName(request.Sha256), cancellationToken) is { } stage) rounds.Add(stage);
        }
        return rounds.OrderBy(r => r.Round).ToList();
    }

    private static string FddStageName(int number) => $"fdd-{number}";
}
