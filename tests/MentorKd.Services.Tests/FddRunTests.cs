using MentorKd.Distillation.Data;
using MentorKd.Distillation.Evaluation;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Training;
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
    public async Task An_fdd_round_classifies_the_pool_by_the_students_answers_writes_new_problems_and_retrains_the_student()
    {
        var tiny = EmbeddedTestRuns.Tiny();
        var config = tiny with
        {
            Method = RunMethods.MentorKdFdd,
            Fdd = new FddConfig { Rounds = 1, PoolSample = 60, HarderPerEasy = 1, SimilarPerHard = 2 },
            Arms = [StudentArms.MentorKd],
        };
        RunConfigValidator.Validate(config);
        await using var platform = await EmbeddedTestRuns.StartAsync(EmbeddedTestRuns.NewDataRoot(), config);
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);
        var events = new List<RunEvent>();

        var run = await RunSession.RunAsync(runs, Guid.NewGuid(), config, events.Add);

        Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}");
        Assert.Equal(1, run.RetrainingRounds);
        Assert.Contains(events, e => e.Stage == "fdd-1" && e.Message.Contains("easy"));
        var store = platform.Services.GetRequiredService<IObjectStore>();
        var root = $"runs/{run.RunId}/";

        // The split is the student's own answers on the pool.
        var pool = await store.ReadRowsAsync<Question>(root + "fdd/1/pool.jsonl", CancellationToken.None);
        var answers = await store.ReadRowsAsync<EvaluatedExample>(root + "fdd/1/pool-answers.jsonl", CancellationToken.None);
        Assert.Equal(60, pool.Count);
        Assert.Equal(pool.Select(q => q.Id).Order(), answers.Select(a => a.QuestionId).Order());
        var easy = await store.ReadRowsAsync<Question>(root + "fdd/1/easy.jsonl", CancellationToken.None);
        Assert.Equal(answers.Where(a => a.Correct).Select(a => a.QuestionId).Order(), easy.Select(q => q.Id).Order());
        Assert.True(easy.Count > 0, "the Mentor-KD student gets some pool problems right");

        // Harder variations of the easy problems (one more person), similar ones for the hard; none repeats dev or test.
        var added = await store.ReadRowsAsync<Question>(root + "rounds/1/questions.jsonl", CancellationToken.None);
        var harder = added.Where(q => q.Id.Contains("~harder")).ToList();
        Assert.Equal(easy.Count, harder.Count);
        Assert.All(harder, q => Assert.Equal(3, new CoinFlipTask().DifficultyOf(q)));
        Assert.Equal((60 - easy.Count) * 2, added.Count(q => q.Id.Contains("~similar")) + await RejectedAsync(store, root));
        var heldOut = (await store.ReadRowsAsync<Question>(root + "datasets/dev-questions.jsonl", CancellationToken.None))
            .Concat(await store.ReadRowsAsync<Question>(root + "datasets/test-questions.jsonl", CancellationToken.None))
            .Select(q => QuestionSynthesis.Normalized(q.Text)).ToHashSet();
        Assert.DoesNotContain(added, q => heldOut.Contains(QuestionSynthesis.Normalized(q.Text)));

        // The student was retrained on everything so far, and the round is in the report.
        var report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        var round = Assert.Single(report.Rounds);
        Assert.Equal(added.Count, round.QuestionsAdded);
        Assert.Equal(400 + added.Count, round.TrainQuestions);
        using var roundsReport = new MemoryStream();
        await store.GetAsync(root + "reports/rounds.md", roundsReport);
        var markdown = System.Text.Encoding.UTF8.GetString(roundsReport.ToArray());
        Assert.Contains("## FDD rounds", markdown);
        Assert.Contains($"| 1 | 60 | {easy.Count} | {60 - easy.Count} | {harder.Count} |", markdown);
    }

    private static async Task<int> RejectedAsync(IObjectStore store, string root)
    {
        var key = root + "fdd/1/similar-problems.rejected.jsonl";
        return await store.StatAsync(key) is null ? 0 : (await store.ReadRowsAsync<Distillation.Teachers.RejectedProblem>(key, CancellationToken.None)).Count;
    }
}
