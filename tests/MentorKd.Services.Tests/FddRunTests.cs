using Grpc.Core;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Evaluation;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Training;
using MentorKd.Augmentation.Runs;
using MentorKd.Embedded;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using MentorKd.TeacherGateway;
using Microsoft.Extensions.DependencyInjection;
using EvaluatedExample = MentorKd.Distillation.Evaluation.EvaluatedExample;
using Question = MentorKd.Distillation.Data.Question;

namespace MentorKd.Services.Tests;

/// <summary>Mentor-KD followed by a feedback-driven round, through the five services: the student's answers on the pool
/// split it into easy and hard problems, the teacher-gateway writes harder and similar ones, and the student is retrained.</summary>
public class FddRunTests
{
    [Fact]
    public async Task Fdd_rounds_classify_the_pool_by_the_students_answers_write_new_problems_within_the_budget_and_train_a_baseline_beside()
    {
        var tiny = EmbeddedTestRuns.Tiny();
        // Round 1 can afford about half of what its split asks for (at most 2 requests per problem); round 2 the rest.
        const long budget = 100;
        var config = tiny with
        {
            Method = RunMethods.MentorKdFdd,
            Fdd = new FddConfig { Rounds = 2, PoolSample = 60, HarderPerEasy = 1, SimilarPerHard = 2, TeacherCallBudget = budget },
            Arms = [StudentArms.MentorKd],
        };
        var (platform, runs, run, events) = await RunToTheEndAsync(config);
        await using var _ = platform;
        Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}");
        Assert.Contains(events, e => e.Stage == "fdd-1" && e.Message.Contains("easy"));
        var store = platform.Services.GetRequiredService<IObjectStore>();
        var root = $"runs/{run.RunId}/";
        var stage = await ReadAsync<FddRoundStage>(store, root + "stages/fdd-1.json");

        // The split is the student's own answers on the pool.
        var pool = await store.ReadRowsAsync<Question>(root + "fdd/1/pool.jsonl", CancellationToken.None);
        var answers = await store.ReadRowsAsync<EvaluatedExample>(root + "fdd/1/pool-answers.jsonl", CancellationToken.None);
        Assert.Equal(60, pool.Count);
        Assert.Equal(pool.Select(q => q.Id).Order(), answers.Select(a => a.QuestionId).Order());
        Assert.Equal(answers.Count(a => a.Correct), stage.Easy);
        Assert.True(stage.Easy > 0, "the Mentor-KD student gets some pool problems right");
        // The budget left room for fewer new problems than the split asks for: a seeded share of the easy and hard problems goes to the teacher.
        var right = answers.Where(a => a.Correct).Select(a => a.QuestionId).ToHashSet();
        Assert.Equal(right.Order(), (await store.ReadRowsAsync<Question>(root + "fdd/1/easy.jsonl", CancellationToken.None)).Select(q => q.Id).Order());
        Assert.Equal(60 - right.Count, (await store.ReadRowsAsync<Question>(root + "fdd/1/hard.jsonl", CancellationToken.None)).Count);
        var easy = await RowsOrNoneAsync(store, root + "fdd/1/harder-sources.jsonl");
        var hard = await RowsOrNoneAsync(store, root + "fdd/1/similar-sources.jsonl");
        Assert.All(easy, q => Assert.Contains(q.Id, right));
        Assert.All(hard, q => Assert.DoesNotContain(q.Id, right));
        Assert.True(easy.Count + 2 * hard.Count <= budget / 2, $"{easy.Count} easy and {hard.Count} hard problems sent: more than the budget pays for");
        Assert.True(easy.Count > 0 || hard.Count > 0);

        // Harder variations of the easy problems (one more person), similar ones for the hard; none repeats dev or test.
        var added = await store.ReadRowsAsync<Question>(root + $"rounds/{stage.Round}/questions.jsonl", CancellationToken.None);
        var harder = added.Where(q => q.Id.Contains("~harder")).ToList();
        Assert.Equal(easy.Count, harder.Count);
        Assert.All(harder, q => Assert.Equal(3, new CoinFlipTask().DifficultyOf(q)));
        Assert.Equal(hard.Count * 2, added.Count(q => q.Id.Contains("~similar")) + await RejectedAsync(store, root, "similar"));
        var heldOut = (await store.ReadRowsAsync<Question>(root + "datasets/dev-questions.jsonl", CancellationToken.None))
            .Concat(await store.ReadRowsAsync<Question>(root + "datasets/test-questions.jsonl", CancellationToken.None))
            .Select(q => QuestionSynthesis.Normalized(q.Text)).ToHashSet();
        Assert.DoesNotContain(added, q => heldOut.Contains(QuestionSynthesis.Normalized(q.Text)));

        // The baseline: problems written from random seed questions, without feedback, at the same writing spend; its
        // student trains on the seed questions and those, not FDD's.
        Assert.True(stage.BaselineRound == stage.Round + 1, $"baseline round {stage.BaselineRound} after FDD's {stage.Round}");
        Assert.Equal(stage.TeacherRequests, stage.BaselineTeacherRequests);
        var baselineAdded = await store.ReadRowsAsync<Question>(root + $"rounds/{stage.BaselineRound}/questions.jsonl", CancellationToken.None);
        Assert.Equal(stage.BaselineAccepted, baselineAdded.Count);
        Assert.All(baselineAdded, q => Assert.Contains("~similar", q.Id));
        Assert.DoesNotContain(baselineAdded, q => heldOut.Contains(QuestionSynthesis.Normalized(q.Text)));

        // Every FDD round's spend, writing and annotating, stays within the budget.
        var report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        Assert.InRange(report.FddRounds.Count, 1, 2);
        Assert.True(report.FddRounds.Sum(f => f.TeacherRequests) <= budget, $"FDD spent {report.FddRounds.Sum(f => f.TeacherRequests)} requests of {budget}");
        var first = report.FddRounds[0];
        Assert.Equal((stage.Easy, stage.Hard, stage.HarderAccepted), (first.Easy, first.Hard, first.HarderAccepted));
        var fddRound = report.Rounds.Single(r => r.Round == stage.Round);
        var baselineRound = report.Rounds.Single(r => r.Round == stage.BaselineRound);
        Assert.Equal((RoundTracks.Fdd, RoundTracks.FddBaseline), (fddRound.Track, baselineRound.Track));
        Assert.Equal(400 + added.Count, fddRound.TrainQuestions);
        Assert.Equal(400 + baselineAdded.Count, baselineRound.TrainQuestions);
        Assert.Equal((fddRound.StudentTestAccuracy, baselineRound.StudentTestAccuracy), (first.StudentTestAccuracy, first.BaselineTestAccuracy));
        if (report.FddRounds.Count == 2)
        {
            // The second round's feedback is about FDD's student, and its training set holds both FDD rounds' problems but no baseline's.
            var second = report.Rounds.Single(r => r.Round == stage.BaselineRound + 1);
            Assert.Equal(RoundTracks.Fdd, second.Track);
            Assert.Equal(400 + added.Count + second.QuestionsAdded, second.TrainQuestions);
        }

        // rounds.md shows both arms; the charts are PNGs.
        var markdown = await ReadTextAsync(store, root + "reports/rounds.md");
        Assert.Contains("## FDD rounds", markdown);
        Assert.Contains($"| 1 | 60 | {stage.Easy} | {stage.Hard} | {stage.HarderAccepted} |", markdown);
        Assert.Contains($"| {stage.BaselineRound} | fdd_baseline |", markdown);
        foreach (var chart in new[] { "fdd-accuracy.png", "fdd-training-set-by-difficulty.png" })
        {
            Assert.Contains(report.Plots, p => p.Key == root + "reports/" + chart);
            using var png = new MemoryStream();
            await store.GetAsync(root + "reports/" + chart, png);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png.ToArray()[..4]);
        }
    }

    [Fact]
    public async Task Fdd_alone_trains_no_mentor_its_rounds_classify_by_sampled_answers_learn_from_the_teacher_only_and_continue_the_students_before()
    {
        var config = EmbeddedTestRuns.Tiny() with
        {
            Method = RunMethods.Fdd,
            Fdd = new FddConfig
            {
                Rounds = 1, PoolSample = 40, HarderPerEasy = 1, SimilarPerHard = 1,
                ClassifySamples = 4, ClassifyTemperature = 1.0, EasyThreshold = 0.75, Retrain = FddRetraining.Continue,
            },
            Arms = [StudentArms.FineTuneCot],
        };
        var (platform, runs, run, events) = await RunToTheEndAsync(config);
        await using var _ = platform;
        Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}");
        Assert.DoesNotContain(events, e => e.Stage == RunSteps.MentorJob);
        var store = platform.Services.GetRequiredService<IObjectStore>();
        var root = $"runs/{run.RunId}/";
        Assert.Null(await store.StatAsync(root + "stages/training-mentor.json"));
        var report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        Assert.Equal(0, report.MentorTestAccuracy);
        Assert.Equal(StudentArms.FineTuneCot, Assert.Single(report.Arms).Arm);
        Assert.DoesNotContain("| mentor (", report.Markdown);

        // The student answered each pool problem four times (sampled); easy means at least three of them right.
        var answers = await store.ReadRowsAsync<EvaluatedExample>(root + "fdd/1/pool-answers.jsonl", CancellationToken.None);
        Assert.Equal(40, answers.Count);
        Assert.All(answers, a => Assert.Equal(4, a.Samples));
        Assert.Contains(answers, a => a.SamplesCorrect is > 0 and < 4); // sampled, not four copies of one answer
        var fdd = Assert.Single(report.FddRounds);
        Assert.Equal(answers.Count(a => a.SamplesCorrect >= 3), fdd.Easy);

        // The FDD round and its baseline continue the fine-tune-CoT student on teacher rationales alone.
        Assert.True(fdd.HarderAccepted + fdd.SimilarAccepted > 0);
        Assert.Equal(2, report.Rounds.Count);
        var student = await ReadAsync<TrainingStage>(store, root + $"stages/training-{StudentArms.FineTuneCot}.json");
        Assert.Null(student.StartedFrom);
        foreach (var round in report.Rounds)
        {
            var trained = await ReadAsync<TrainingStage>(store, root + $"stages/training-round{round.Round}-{StudentArms.FineTuneCot}.json");
            Assert.DoesNotContain(trained.TrainedOn, k => k.Contains("mentor"));
            Assert.Null(trained.SoftLabelsFrom);
            Assert.Equal(0, round.MentorCorrect);
            Assert.Equal(student.CheckpointKey, trained.StartedFrom);
        }
    }

    [Fact]
    public async Task A_platform_restarted_during_an_fdd_rounds_training_carries_the_round_on_without_redoing_its_steps_or_asking_the_teacher_twice()
    {
        // An LLM teacher on a scripted endpoint: it writes harder / similar coin-flip problems and solves problems
        // exactly. Every request body is kept: the same call made twice would be a teacher call paid twice.
        var task = new CoinFlipTask();
        var bodies = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var endpoint = await FaultyOpenAiEndpoint.StartAsync(_ => Fault.None, body =>
        {
            bodies.Enqueue(body.GetRawText());
            var prompt = body.GetProperty("messages")[0].GetProperty("content").GetString()!;
            if (prompt.Contains("Write one new problem", StringComparison.Ordinal))
            {
                int start = prompt.IndexOf("Problem: ", StringComparison.Ordinal) + 9;
                var original = new Question("original", task.Name, prompt[start..prompt.IndexOf("\nAnswer:", start, StringComparison.Ordinal)], "");
                var random = new Random(StableHashOf(body.GetRawText()));
                var written = prompt.Contains("harder", StringComparison.Ordinal)
                    ? task.Harder(original, random, "new") ?? task.Generate(random, "new", task.DifficultyOf(original))
                    : task.Generate(random, "new", task.DifficultyOf(original));
                return $"Problem: {written.Text}";
            }
            var question = prompt[(prompt.IndexOf("Q: ", StringComparison.Ordinal) + 3)..prompt.IndexOf("\nA:", StringComparison.Ordinal)];
            return task.Solve(new Question("asked", task.Name, question, ""), 0, new Random(1), mistake: false).Text;
        });
        var tiny = EmbeddedTestRuns.Tiny();
        var config = tiny with
        {
            Method = RunMethods.Fdd,
            // Seeded: sample i asks with seed + i, so two calls with the same body would be the same call paid twice.
            Teacher = tiny.Teacher with { Kind = "openai", Name = "scripted", BaseUrl = endpoint.BaseUrl.ToString(), Model = "scripted", Prompt = "zero-shot-cot", Seed = 11 },
            Fdd = new FddConfig { Rounds = 1, PoolSample = 30, HarderPerEasy = 1, SimilarPerHard = 1, VerifySamples = 2 },
            Arms = [StudentArms.FineTuneCot],
        };
        RunConfigValidator.Validate(config);
        var root = EmbeddedTestRuns.NewDataRoot();
        var runId = Guid.NewGuid();

        // The platform stops while the FDD round's student trains: the pool was classified, the problems written and annotated.
        await using (var first = await EmbeddedTestRuns.StartAsync(root, config))
        {
            var runs = new Protos.V1.Runs.RunsClient(first.Channel);
            await runs.StartRunAsync(new StartRunRequest { RunId = runId.ToString("D"), ConfigJson = System.Text.Json.JsonSerializer.Serialize(config, RunConfig.Json) });
            using var watch = runs.WatchRun(new WatchRunRequest { RunId = runId.ToString("D") });
            await foreach (var e in watch.ResponseStream.ReadAllAsync())
            {
                Assert.NotEqual(RunEventKind.RunEnded, e.Kind);
                if (e.Stage == $"round1-{StudentArms.FineTuneCot}" && e.Training is { Step: > 0 }) break;
            }
        }
        int beforeRestart = endpoint.Requests;
        var store = new FileSystemObjectStore(Path.Combine(root, "objects"));
        var stage = await ReadAsync<FddRoundStage>(store, $"runs/{runId:D}/stages/fdd-1.json");

        // Started again on the same data, the platform carries the run on by itself.
        var events = new List<RunEvent>();
        await using (var second = await EmbeddedTestRuns.StartAsync(root, config))
        {
            var runs = new Protos.V1.Runs.RunsClient(second.Channel);
            var run = await FollowUntilEndedAsync(runs, runId, events, TimeSpan.FromMinutes(5));
            Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}");
            var report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
            var fdd = Assert.Single(report.FddRounds);
            Assert.Equal((stage.Easy, stage.HarderAccepted, stage.BaselineAccepted), (fdd.Easy, fdd.HarderAccepted, fdd.BaselineAccepted));
            Assert.Equal(2, report.Rounds.Count);
            // Every teacher call the restarted platform needed (the baseline's annotation included) was answered from
            // the ledger or a stored output: it paid for none.
            var usage = await new Protos.V1.TeacherGateway.TeacherGatewayClient(second.Channel).GetUsageAsync(new GetUsageRequest());
            Assert.Equal((0L, 0L), (usage.Requests, usage.Attempts));
        }

        // The round went on from its training: the pool was not classified again nor its problems written again, and no
        // teacher call was made twice.
        Assert.DoesNotContain(events, e => e.Stage == "fdd-1");
        Assert.Equal(beforeRestart, endpoint.Requests);
        Assert.Contains(events, e => e.Stage == $"round1-{StudentArms.FineTuneCot}" && e.Training is not null);
        var all = bodies.ToList();
        var twice = all.GroupBy(b => b).Where(g => g.Count() > 1).Select(g => $"{g.Count()}× {g.Key}").ToList();
        Assert.True(twice.Count == 0, $"{twice.Count} calls made more than once ({beforeRestart} before the restart), e.g.\n{string.Join("\n", twice.Take(3))}");
    }

    private static int StableHashOf(string text) => text.Aggregate(17, (h, c) => unchecked(h * 31 + c));

    /// <summary>WatchRun until the run's end event; a stream that ends before it (the run not yet taken up) is opened again.</summary>
    private static async Task<Run> FollowUntilEndedAsync(Protos.V1.Runs.RunsClient runs, Guid runId, List<RunEvent> events, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var watch = runs.WatchRun(new WatchRunRequest { RunId = runId.ToString("D") }, deadline: deadline);
                await foreach (var e in watch.ResponseStream.ReadAllAsync())
                {
                    events.Add(e);
                    if (e.Kind == RunEventKind.RunEnded)
                    {
                        await Task.Delay(200); // the state machine hears its own end a moment after the watchers
                        return await runs.GetRunAsync(new GetRunRequest { RunId = runId.ToString("D") });
                    }
                }
            }
            catch (Grpc.Core.RpcException e) when (e.StatusCode is Grpc.Core.StatusCode.Unavailable or Grpc.Core.StatusCode.NotFound) { }
            await Task.Delay(500);
        }
        return await runs.GetRunAsync(new GetRunRequest { RunId = runId.ToString("D") });
    }

    /// <summary>The config validated, a platform started for it, and the run followed through the Runs API to its end.</summary>
    private static async Task<(EmbeddedPlatform Platform, Protos.V1.Runs.RunsClient Runs, Run Run, List<RunEvent> Events)> RunToTheEndAsync(RunConfig config)
    {
        RunConfigValidator.Validate(config);
        var platform = await EmbeddedTestRuns.StartAsync(EmbeddedTestRuns.NewDataRoot(), config);
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);
        var events = new List<RunEvent>();
        return (platform, runs, await RunSession.RunAsync(runs, Guid.NewGuid(), config, events.Add), events);
    }

    private static async Task<IReadOnlyList<Question>> RowsOrNoneAsync(IObjectStore store, string key) =>
        await store.StatAsync(key) is null ? [] : await store.ReadRowsAsync<Question>(key, CancellationToken.None);

    private static async Task<string> ReadTextAsync(IObjectStore store, string key)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static async Task<T> ReadAsync<T>(IObjectStore store, string key) =>
        System.Text.Json.JsonSerializer.Deserialize<T>(await ReadTextAsync(store, key), JsonLines.Options)!;

    private static async Task<int> RejectedAsync(IObjectStore store, string root, string mode)
    {
        var key = root + $"fdd/1/{mode}-problems.rejected.jsonl";
        return await store.StatAsync(key) is null ? 0 : (await store.ReadRowsAsync<Distillation.Teachers.RejectedProblem>(key, CancellationToken.None)).Count;
    }
}
