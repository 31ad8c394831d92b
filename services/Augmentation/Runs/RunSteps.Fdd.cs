using System.Security.Cryptography;
using System.Text;
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
        var work = new FddWork(number, keys.Fdd(number) + "pool.jsonl", pool.Count, DateTime.UtcNow);
        await registry.WriteRowsAsync(work.PoolKey, pool, token);

        feeds.Begin(run.CorrelationId);
        run.Stage = $"fdd-{number}";
        await unfinished.MarkAsync(run.CorrelationId, token);
        var student = await LatestStudentAsync(run, config, RoundTracks.Fdd, token);
        var classify = config.Fdd.ClassifySamples;
        Report(run, RunEventKind.StageStarted, classify == 0
            ? $"FDD round {number}: the student answers {pool.Count} pool problems (easy: right, hard: wrong)"
            : $"FDD round {number}: the student answers {pool.Count} pool problems {classify} times each at T={config.Fdd.ClassifyTemperature} " +
              $"(easy: at least {config.Fdd.EasyThreshold:P0} right)");
        var request = new EvaluateRequest
        {
            CheckpointKey = student.CheckpointKey, DatasetKey = work.PoolKey, MaxNewTokens = config.Student.Training.EvalMaxNewTokens,
            BatchSize = config.Student.Training.EvalBatchSize, ReportKey = keys.Fdd(number) + "pool-answers.jsonl",
            Samples = classify, Temperature = config.Fdd.ClassifyTemperature, Seed = config.Seed * 1009L + number, Dtype = config.FrozenDtype,
        };
        run.Fdd = work;
        run.PendingEvaluations.Add($"{work.Name}-pool");
        await context.SendToQueueAsync(EvaluateCheckpoint.Queue, EvaluateCheckpoint.For(keys.EvaluationId($"{work.Name}-pool"), request), token);
    }

    /// <summary>The student's answers on the pool are in: the easy and hard problems the budget allows go to the
    /// teacher-gateways as harder and similar syntheses, and with the baseline arm random seed questions as similar ones;
    /// each arm's new problems are checked against dev, test, the seed questions and the arm's earlier rounds.</summary>
    public async Task PoolClassifiedAsync(BehaviorContext<RunState, CheckpointEvaluated> context)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var (keys, work) = (Keys(run), run.Fdd!);
        run.PendingEvaluations.Remove($"{work.Name}-pool");
        if (context.Message.Error.Length > 0) throw new InvalidOperationException($"classifying the pool: {context.Message.Error}");
        var config = await ConfigAsync(run, token);
        var answers = await registry.ReadRowsAsync<EvaluatedExample>(context.Message.ReadReport().Report.Key, token);
        var right = answers.Where(a => config.Fdd.ClassifySamples == 0 ? a.Correct : a.CorrectShare >= config.Fdd.EasyThreshold).Select(a => a.QuestionId).ToHashSet();
        var pool = await registry.ReadRowsAsync<Question>(work.PoolKey, token);
        var (easy, hard) = (pool.Where(q => right.Contains(q.Id)).ToList(), pool.Where(q => !right.Contains(q.Id)).ToList());
        run.Fdd = work with { Easy = easy.Count, Hard = hard.Count };
        Report(run, RunEventKind.StageProgress, $"FDD round {work.Number}: {easy.Count} easy, {hard.Count} hard");

        await registry.WriteRowsAsync(keys.Fdd(work.Number) + "easy.jsonl", easy, token);
        await registry.WriteRowsAsync(keys.Fdd(work.Number) + "hard.jsonl", hard, token);
        (easy, hard) = await WithinBudgetAsync(run, config, work, easy, hard, token);

        // New problems must not repeat dev, test, the seed questions, or problems this arm's earlier rounds trained on.
        var earlier = await FddRoundsAsync(run, work.Number - 1, token);
        string[] common = [keys.DevQuestions, keys.TestQuestions, keys.TrainQuestions];
        var (heldOut, baselineHeldOut) = (common.Concat(earlier.Select(f => f.QuestionsKey)).ToList(),
            common.Concat(earlier.Where(f => f.BaselineQuestionsKey.Length > 0).Select(f => f.BaselineQuestionsKey)).ToList());
        int asked = easy.Count * config.Fdd.HarderPerEasy + hard.Count * config.Fdd.SimilarPerHard;
        var syntheses = new List<(string Mode, List<Question> Questions, int PerQuestion)>
        {
            ("harder", easy, config.Fdd.HarderPerEasy), ("similar", hard, config.Fdd.SimilarPerHard),
        };
        if (config.Fdd.Baseline && asked > 0)
        {
            // As many writing requests as FDD's (one per source) for about as many problems.
            var sources = await BaselineSourcesAsync(run, config, work.Number, easy.Count + hard.Count, token);
            syntheses.Add(("baseline", sources, Math.Clamp((int)Math.Round((double)asked / sources.Count), 1, QuestionsPerSynthesisLimit)));
        }
        foreach (var (mode, questions, perQuestion) in syntheses)
        {
            if (questions.Count == 0 || perQuestion == 0) continue;
            var name = $"{work.Name}-{mode}";
            var inputKey = keys.Fdd(work.Number) + $"{mode}-sources.jsonl";
            await registry.WriteRowsAsync(inputKey, questions, token);
            run.PendingSyntheses.Add(name);
            await context.SendToQueueAsync(SynthesizeProblems.Queue, new SynthesizeProblems(keys.SynthesisId(name), inputKey, mode == "baseline" ? "similar" : mode,
                perQuestion, mode == "baseline" ? baselineHeldOut : heldOut, keys.Fdd(work.Number) + $"{mode}-problems.jsonl", config.Teacher.GatewayTeacher,
                config.Fdd.VerifySamples), token);
        }
        if (run.PendingSyntheses.Count == 0) await FinishFddRoundAsync(context, [], []);
    }

    /// <summary>The baseline's sources: seed questions drawn at random (seeded per round), so its new problems' difficulties
    /// are the seed set's whatever the student gets wrong.</summary>
    private async Task<List<Question>> BaselineSourcesAsync(RunState run, RunConfig config, int number, int count, CancellationToken cancellationToken)
    {
        var seed = (await registry.ReadRowsAsync<Question>(Keys(run).TrainQuestions, cancellationToken)).ToArray();
        new Random(config.Seed * 131 + number).Shuffle(seed);
        return seed.Take(Math.Min(seed.Length, count)).ToList();
    }

    /// <summary>A synthesis is in; when the last is, the accepted problems become the round's new questions (and the
    /// baseline's, its own).</summary>
    public async Task ProblemsSynthesizedAsync(BehaviorContext<RunState, ProblemsSynthesized> context)
    {
        var (run, outcome, token) = (context.Saga, context.Message, context.CancellationToken);
        var name = Keys(run).JobName(outcome.SynthesisId, "synthesis-");
        run.PendingSyntheses.Remove(name);
        if (outcome.Error.Length > 0) throw new InvalidOperationException($"problem synthesis ({name}): {outcome.Error}");
        var work = run.Fdd!;
        var mode = name[(work.Name.Length + 1)..];
        long requests = outcome.Usage?.Requests ?? 0;
        run.Fdd = mode switch
        {
            "harder" => work with { HarderAccepted = outcome.Accepted, Rejected = work.Rejected + outcome.Rejected, TeacherRequests = work.TeacherRequests + requests },
            "similar" => work with { SimilarAccepted = outcome.Accepted, Rejected = work.Rejected + outcome.Rejected, TeacherRequests = work.TeacherRequests + requests },
            _ => work with { BaselineAccepted = outcome.Accepted, BaselineTeacherRequests = requests },
        };
        Report(run, RunEventKind.StageProgress, $"FDD round {work.Number}: {outcome.Accepted} {mode} problems accepted, {outcome.Rejected} rejected");
        if (run.PendingSyntheses.Count > 0) return;

        var problems = new List<Question>();
        foreach (var written in new[] { "harder", "similar" }) problems.AddRange(await SynthesizedAsync(run, work.Number, written, token));
        await FinishFddRoundAsync(context, problems, await SynthesizedAsync(run, work.Number, "baseline", token));
    }

    private async Task<List<Question>> SynthesizedAsync(RunState run, int number, string mode, CancellationToken cancellationToken)
    {
        var key = Keys(run).Fdd(number) + $"{mode}-problems.jsonl";
        return await store.StatAsync(key, cancellationToken) is null ? [] : (await registry.ReadRowsAsync<SynthesizedProblem>(key, cancellationToken)).Select(p => p.Question).ToList();
    }

    /// <summary>The round's new problems are recorded and asked for as a retraining round, which starts at once (then the
    /// baseline's, when it has any); with none, FDD ends here.</summary>
    private async Task FinishFddRoundAsync(BehaviorContext<RunState> context, IReadOnlyList<Question> problems, IReadOnlyList<Question> baseline)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var (keys, work) = (Keys(run), run.Fdd!);
        run.Fdd = null;
        var (questionsKey, baselineKey) = (keys.Fdd(work.Number) + "new-questions.jsonl", keys.Fdd(work.Number) + "baseline-questions.jsonl");
        await registry.WriteRowsAsync(questionsKey, problems, token);
        await registry.WriteRowsAsync(baselineKey, baseline, token);
        // The round's requests are dated when the round started: questions a user added meanwhile wait for these rounds.
        var requests = new List<RoundRequest>();
        if (problems.Count > 0)
            requests.Add(new RoundRequest(questionsKey, Sha(problems), $"FDD round {work.Number}: {work.HarderAccepted} harder, {work.SimilarAccepted} similar",
                work.StartedAt, RoundTracks.Fdd));
        if (problems.Count > 0 && baseline.Count > 0)
            requests.Add(new RoundRequest(baselineKey, Sha(baseline), $"FDD round {work.Number}'s baseline: {baseline.Count} problems without feedback",
                work.StartedAt.AddTicks(1), RoundTracks.FddBaseline));
        int next = (await RoundRecordsAsync(run, token)).Count + 1;
        await Records(run).SaveAsync(FddStageName(work.Number), new FddRoundStage(work.Number, problems.Count == 0 ? 0 : next, work.Pool, work.Easy, work.Hard,
            work.HarderAccepted, work.SimilarAccepted, work.Rejected, work.TeacherRequests, questionsKey, work.BaselineAccepted, work.BaselineTeacherRequests,
            requests.Count > 1 ? next + 1 : 0, requests.Count > 1 ? baselineKey : ""), token);
        if (problems.Count == 0)
        {
            Report(run, RunEventKind.StageCompleted, $"FDD round {work.Number}: no new problem was accepted; FDD ends");
            await WriteRoundsReportAsync(run, await ConfigAsync(run, token), token);
            return;
        }
        foreach (var request in requests)
        {
            using var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(request, JsonLines.Options));
            await store.PutAsync(keys.RoundRequest(request.Sha256), json, token);
        }
        await StartNextRoundAsync(context);
    }

    private static string Sha(IReadOnlyList<Question> questions) =>
        Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(questions, JsonLines.Options)));

    /// <summary>The FDD part of reports/rounds.md (each round's feedback and new problems, FDD's student beside the
    /// baseline's), reports/fdd-rounds.json, and the two charts.</summary>
    private async Task WriteFddReportAsync(RunState run, RunConfig config, IReadOnlyList<RoundStage> rounds, StringBuilder text, CancellationToken cancellationToken)
    {
        var keys = Keys(run);
        // What the FDD student learns from: the seed questions the teacher annotated, then each round's new problems.
        var trainedOn = (await registry.ReadRowsAsync<Question>(keys.TeacherQuestions, cancellationToken)).ToList();
        var rows = new List<FddRoundRow>();
        var byDifficulty = new List<(int Round, IReadOnlyDictionary<int, int> ByDifficulty)> { (0, ByDifficulty(trainedOn)) };
        foreach (var f in await FddRoundsAsync(run, config.Fdd.Rounds, cancellationToken))
        {
            RoundStage? Find(int number) => rounds.FirstOrDefault(r => r.Round == number && number > 0);
            if (Find(f.Round) is not null) trainedOn.AddRange(await registry.ReadRowsAsync<Question>(keys.Round(f.Round) + "questions.jsonl", cancellationToken));
            rows.Add(new FddRoundRow(f, Find(f.Round), Find(f.BaselineRound), ByDifficulty(trainedOn)));
            byDifficulty.Add((f.Fdd, rows[^1].TrainingByDifficulty));
        }
        if (rows.Count == 0) return;

        text.AppendLine();
        text.AppendLine("## FDD rounds");
        text.AppendLine();
        text.AppendLine("The student answers the pool (easy: right, hard: wrong); the teacher writes harder variations of easy problems and similar " +
                        "problems for hard ones, verified and checked against dev, test and everything already trained on. " +
                        (config.Fdd.Baseline ? "The baseline spends about as many teacher requests on as many problems written without feedback " +
                                               "(similar problems for seed questions drawn at random); its student learns from those instead." : ""));
        text.AppendLine();
        text.AppendLine("| FDD round | pool | easy | hard | harder accepted | similar accepted | rejected | teacher requests (writing + annotating) | FDD student dev | FDD student test | baseline problems | baseline teacher requests | baseline student dev | baseline student test |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        var start = rounds[0];
        text.AppendLine($"| 0 | | | | | | | | {start.DevAccuracy:P1} | {start.TestAccuracy:P1} | | | {start.DevAccuracy:P1} | {start.TestAccuracy:P1} |");
        foreach (var (f, fdd, baseline, _) in rows)
            text.AppendLine($"| {f.Fdd} | {f.Pool} | {f.Easy} | {f.Hard} | {f.HarderAccepted} | {f.SimilarAccepted} | {f.Rejected} | " +
                            $"{f.TeacherRequests} + {fdd?.TeacherRequests ?? 0} | {fdd?.DevAccuracy.ToString("P1")} | {fdd?.TestAccuracy.ToString("P1")} | " +
                            $"{(baseline is null ? "" : f.BaselineAccepted)} | {(baseline is null ? "" : $"{f.BaselineTeacherRequests} + {baseline.TeacherRequests}")} | " +
                            $"{baseline?.DevAccuracy.ToString("P1")} | {baseline?.TestAccuracy.ToString("P1")} |");
        text.AppendLine();
        text.AppendLine("Charts: `fdd-accuracy.png` (test accuracy per round" + (config.Fdd.Baseline ? ", FDD beside the baseline" : "") + ")" +
                        (byDifficulty[0].ByDifficulty.Count > 0 ? ", `fdd-training-set-by-difficulty.png` (the FDD student's training problems by difficulty)." : "."));

        using (var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(rows, JsonLines.Options)))
            await store.PutAsync(keys.FddRounds, json, cancellationToken);
        var points = rows.Select(r => new FddPlots.AccuracyPoint(r.Stage.Fdd, r.Fdd?.TestAccuracy, r.Baseline?.TestAccuracy))
            .Prepend(new FddPlots.AccuracyPoint(0, start.TestAccuracy, config.Fdd.Baseline ? start.TestAccuracy : null)).ToList();
        using (var png = new MemoryStream(FddPlots.AccuracyPerRound(points)))
            await store.PutAsync(keys.FddAccuracyPlot, png, cancellationToken);
        if (byDifficulty[0].ByDifficulty.Count > 0)
        {
            using var png = new MemoryStream(FddPlots.TrainingSetByDifficulty(byDifficulty));
            await store.PutAsync(keys.FddDifficultyPlot, png, cancellationToken);
        }
    }

    /// <summary>Problems per difficulty, for those whose difficulty is known (synthetic tasks).</summary>
    private static IReadOnlyDictionary<int, int> ByDifficulty(IEnumerable<Question> questions) =>
        questions.Where(q => q.Difficulty is not null).GroupBy(q => q.Difficulty!.Value).ToDictionary(g => g.Key, g => g.Count());

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
        long spent = await FddSpentAsync(run, finished, cancellationToken);
        if (config.Fdd.TeacherCallBudget is { } budget && spent >= budget)
            return $"the teacher-call budget is spent ({spent} of {budget} requests)";
        if (config.Fdd.Patience is { } patience && finished.Count >= patience)
        {
            var all = await RoundRecordsAsync(run, cancellationToken);
            var baseline = await TrainingRecordAsync(run, BaselineArm(config), cancellationToken);
            var dev = new List<double> { baseline.DevAccuracy };
            dev.AddRange(finished.Select(f => all.FirstOrDefault(r => r.Round == f.Round)).OfType<RoundStage>().Select(r => r.DevAccuracy));
            if (dev.Count > patience && dev.TakeLast(patience).Max() <= dev.SkipLast(patience).Max())
                return $"the student's dev accuracy has not improved for {patience} rounds ({string.Join(", ", dev.Select(d => d.ToString("P1")))})";
        }
        return null;
    }

    /// <summary>Teacher requests FDD's rounds have spent so far: writing their problems and annotating them (the baseline
    /// arm spends about as much again, outside the budget).</summary>
    private async Task<long> FddSpentAsync(RunState run, IReadOnlyList<FddRoundStage> finished, CancellationToken cancellationToken)
    {
        var all = await RoundRecordsAsync(run, cancellationToken);
        return finished.Sum(f => f.TeacherRequests + (all.FirstOrDefault(r => r.Round == f.Round && f.Round > 0)?.TeacherRequests ?? 0));
    }

    /// <summary>The easy and hard problems this round can afford: with a teacher-call budget, at most as many new problems
    /// as the rest of it pays for at an upper estimate per problem (writing, verifying, annotating), the rest left out
    /// at random (seeded) in proportion.</summary>
    private async Task<(List<Question> Easy, List<Question> Hard)> WithinBudgetAsync(RunState run, RunConfig config, FddWork work, List<Question> easy,
        List<Question> hard, CancellationToken cancellationToken)
    {
        if (config.Fdd.TeacherCallBudget is not { } budget) return (easy, hard);
        long left = budget - await FddSpentAsync(run, await FddRoundsAsync(run, work.Number - 1, cancellationToken), cancellationToken);
        int verify = config.Teacher.Kind == "simulated" ? 0 : config.Fdd.VerifySamples > 0 ? config.Fdd.VerifySamples : config.Teacher.VerificationSamples;
        long perProblem = 1 + verify + config.Teacher.RationalesPerQuestion;
        long asked = (long)easy.Count * config.Fdd.HarderPerEasy + (long)hard.Count * config.Fdd.SimilarPerHard;
        long affordable = Math.Max(0, left / perProblem);
        if (asked <= affordable) return (easy, hard);
        double share = (double)affordable / asked;
        var random = new Random(config.Seed * 97 + work.Number);
        List<Question> Keep(List<Question> problems) => problems.OrderBy(_ => random.Next()).Take((int)Math.Floor(problems.Count * share)).ToList();
        var (keptEasy, keptHard) = (Keep(easy), Keep(hard));
        Report(run, RunEventKind.StageProgress, $"FDD round {work.Number}: {left} teacher requests left of {budget}: new problems for {keptEasy.Count} easy and " +
            $"{keptHard.Count} hard problems (at most {perProblem} requests each)");
        return (keptEasy, keptHard);
    }

    /// <summary>The latest student of <paramref name="track"/>'s arm: the last finished retraining round's of the baseline arm
    /// for <see cref="RoundTracks.FddBaseline"/>, of FDD's (and a user's rounds) otherwise; the run's own before any round.</summary>
    private async Task<TrainingStage> LatestStudentAsync(RunState run, RunConfig config, string track, CancellationToken cancellationToken)
    {
        var rounds = (await RoundRecordsAsync(run, cancellationToken)).Where(r => (r.Track == RoundTracks.FddBaseline) == (track == RoundTracks.FddBaseline)).ToList();
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

    private const int QuestionsPerSynthesisLimit = 16;
}
