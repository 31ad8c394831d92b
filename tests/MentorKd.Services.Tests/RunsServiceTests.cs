using System.Text.Json;
using Grpc.Core;
using MentorKd.Augmentation.Datasets;
using MentorKd.Augmentation.Runs;
using MentorKd.Distillation.Pipeline;
using MentorKd.Embedded;
using MentorKd.Protos.V1;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

/// <summary>The Runs API's answers to bad input and to cancellation, through a real gRPC channel.</summary>
public class RunsServiceTests
{
    [Theory]
    [InlineData("", "config_json")]
    [InlineData("{ \"student\": { \"training\": { \"lambda\": 1.5 } } }", "config_json.student.training.lambda")]
    [InlineData("{ \"task\": { \"name\": \"no_such_task\" } }", "config_json.task.name")]
    [InlineData("{ \"mentor\": { \"layerz\": 3 } }", "config_json.mentor.layerz")]
    [InlineData("{ \"student\": { \"soft_labels\": \"carrier_pigeon\" } }", "config_json.student.soft_labels")]
    [InlineData("{ \"task\": { \"source\": \"files\", \"files\": { \"train_questions\": \"/nowhere/train.json\", \"test\": \"/nowhere/test.json\" } } }", "config_json.task.files.train_questions")]
    // Beyond the platform's limits (Augmentation:Limits): refused at once, not failing late or holding the machine.
    [InlineData("{ \"student\": { \"training\": { \"epochs\": 1000000000, \"kd_mode\": \"kl\" } } }", "config_json.student.training.epochs")]
    [InlineData("{ \"name\": \"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\" }", "config_json.name")]
    [InlineData("{ \"student\": { \"training\": { \"epochs\": 3 } } }", "config_json.student.training.kd_mode")]
    public async Task A_bad_config_is_invalid_argument_naming_the_field(string config, string field)
    {
        await using var platform = await EmbeddedTestRuns.StartAsync(EmbeddedTestRuns.NewDataRoot());
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);
        var error = await Assert.ThrowsAsync<RpcException>(async () => await runs.StartRunAsync(new StartRunRequest { ConfigJson = config }));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith(field + ":", error.Status.Detail);
    }

    [Fact]
    public async Task A_platform_reads_no_host_file_outside_its_data_roots()
    {
        var root = EmbeddedTestRuns.NewDataRoot();
        await using var platform = await EmbeddedPlatform.StartAsync(EmbeddedRunSetup.For(EmbeddedTestRuns.Tiny(), root) with { DataRoots = [root] });
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);
        const string config = """{ "task": { "name": "gsm8k", "source": "files", "files": { "train_questions": "/etc/passwd", "test": "/etc/passwd" } } }""";
        var error = await Assert.ThrowsAsync<RpcException>(async () => await runs.StartRunAsync(new StartRunRequest { ConfigJson = config }));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("config_json.task.files.train_questions:", error.Status.Detail);
        Assert.Contains("outside this platform's data roots", error.Status.Detail);
        Assert.DoesNotContain("root:", error.Status.Detail); // nothing of the file itself
    }

    [Fact]
    public async Task Unknown_or_malformed_run_ids_get_not_found_or_invalid_argument()
    {
        await using var platform = await EmbeddedTestRuns.StartAsync(EmbeddedTestRuns.NewDataRoot());
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);
        var unknown = Guid.NewGuid().ToString("D");

        await AssertStatus(StatusCode.NotFound, "run_id", () => runs.GetRunAsync(new GetRunRequest { RunId = unknown }).ResponseAsync);
        await AssertStatus(StatusCode.NotFound, "run_id", () => runs.CancelRunAsync(new CancelRunRequest { RunId = unknown }).ResponseAsync);
        await AssertStatus(StatusCode.NotFound, "run_id", () => runs.GetReportAsync(new GetReportRequest { RunId = unknown }).ResponseAsync);
        await AssertStatus(StatusCode.NotFound, "run_id", async () =>
        {
            using var watch = runs.WatchRun(new WatchRunRequest { RunId = unknown });
            await watch.ResponseStream.MoveNext(CancellationToken.None);
        });
        await AssertStatus(StatusCode.InvalidArgument, "run_id", () => runs.GetRunAsync(new GetRunRequest { RunId = "run-1" }).ResponseAsync);
        await AssertStatus(StatusCode.InvalidArgument, "run_id", () => runs.StartRunAsync(new StartRunRequest { RunId = "../x", ConfigJson = "{}" }).ResponseAsync);
        await AssertStatus(StatusCode.NotFound, "run_id", () => runs.AddQuestionsAsync(new AddQuestionsRequest { RunId = unknown, QuestionsKey = "x.jsonl" }).ResponseAsync);
        Assert.Empty((await runs.ListRunsAsync(new ListRunsRequest())).Runs);
    }

    [Fact]
    public async Task A_cancelled_run_stops_its_training_job_and_ends_cancelled_and_a_different_config_under_its_id_is_refused()
    {
        await using var platform = await EmbeddedTestRuns.StartAsync(EmbeddedTestRuns.NewDataRoot());
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);
        var config = EmbeddedTestRuns.Tiny() with { Mentor = EmbeddedTestRuns.Tiny().Mentor with { Training = EmbeddedTestRuns.Tiny().Mentor.Training with { Epochs = 200 } } };
        var runId = Guid.NewGuid().ToString("D");
        var json = JsonSerializer.Serialize(config, RunConfig.Json);
        await runs.StartRunAsync(new StartRunRequest { RunId = runId, ConfigJson = json });
        // Starting the same run again while it works returns it instead of starting a second one.
        Assert.Equal(runId, (await runs.StartRunAsync(new StartRunRequest { RunId = runId, ConfigJson = json })).RunId);

        // New questions must be for the run's task, with gold answers, given one way.
        var wrongTask = new AddQuestionsRequest { RunId = runId };
        wrongTask.Questions.Add(new Question { Id = "q1", Task = "last_letter_concatenation", Text = "Take the last letters of \"ab cd\".", Answer = "bd" });
        await AssertStatus(StatusCode.InvalidArgument, "questions[0].task", () => runs.AddQuestionsAsync(wrongTask).ResponseAsync);
        var noAnswer = new AddQuestionsRequest { RunId = runId };
        noAnswer.Questions.AddRange(EmbeddedTestRuns.NewQuestions(1, seed: 1).Select(q => { q.Answer = ""; return q; }));
        await AssertStatus(StatusCode.InvalidArgument, "questions[0].answer", () => runs.AddQuestionsAsync(noAnswer).ResponseAsync);
        await AssertStatus(StatusCode.InvalidArgument, "questions", () => runs.AddQuestionsAsync(new AddQuestionsRequest { RunId = runId }).ResponseAsync);
        await AssertStatus(StatusCode.NotFound, "questions_key", () => runs.AddQuestionsAsync(new AddQuestionsRequest { RunId = runId, QuestionsKey = "nowhere/q.jsonl" }).ResponseAsync);

        var seen = new List<RunEvent>();
        using (var watch = runs.WatchRun(new WatchRunRequest { RunId = runId }))
        {
            bool cancelled = false;
            await foreach (var e in watch.ResponseStream.ReadAllAsync())
            {
                seen.Add(e);
                if (!cancelled && e.Stage == "mentor" && e.Training is { Step: > 0 })
                {
                    // The run's data exists now: one of its test questions is refused as training data.
                    var registry = platform.Services.GetRequiredService<DatasetRegistry>();
                    var test = (await registry.ReadRowsAsync<Distillation.Data.Question>(new RunKeys(Guid.Parse(runId)).TestQuestions, CancellationToken.None))[3];
                    var leak = new AddQuestionsRequest { RunId = runId };
                    leak.Questions.AddRange(EmbeddedTestRuns.NewQuestions(1, seed: 5));
                    leak.Questions.Add(new Question { Id = "leak", Task = test.Task, Text = test.Text, Answer = test.Answer });
                    await AssertStatus(StatusCode.InvalidArgument, "questions[1].text", () => runs.AddQuestionsAsync(leak).ResponseAsync);
                    await runs.CancelRunAsync(new CancelRunRequest { RunId = runId, Reason = "test" });
                    cancelled = true;
                }
            }
        }
        Assert.Equal(RunEventKind.RunEnded, seen[^1].Kind);
        Assert.Equal(RunStatus.Cancelled, seen[^1].Status);
        Assert.Equal(1, seen.Count(e => e.Kind == RunEventKind.StageStarted && e.Stage == "mentor"));

        var trainer = new Protos.V1.Trainer.TrainerClient(platform.Channel);
        var job = await trainer.GetJobAsync(new GetJobRequest { JobId = $"{runId}-mentor" });
        for (int i = 0; i < 100 && job.State != JobState.Cancelled; i++)
        {
            await Task.Delay(100);
            job = await trainer.GetJobAsync(new GetJobRequest { JobId = $"{runId}-mentor" });
        }
        Assert.Equal(JobState.Cancelled, job.State);
        Assert.True(job.Progress.Epoch < 200, "the mentor job stopped early");
        Assert.Equal(RunStatus.Cancelled, (await runs.GetRunAsync(new GetRunRequest { RunId = runId })).Status);
        await AssertStatus(StatusCode.FailedPrecondition, "run_id", () => runs.GetReportAsync(new GetReportRequest { RunId = runId }).ResponseAsync);
        var forCancelled = new AddQuestionsRequest { RunId = runId };
        forCancelled.Questions.AddRange(EmbeddedTestRuns.NewQuestions(2, seed: 3));
        await AssertStatus(StatusCode.FailedPrecondition, "run_id", () => runs.AddQuestionsAsync(forCancelled).ResponseAsync);

        var different = JsonSerializer.Serialize(config with { Seed = 8 }, RunConfig.Json);
        await AssertStatus(StatusCode.FailedPrecondition, "run_id", () => runs.StartRunAsync(new StartRunRequest { RunId = runId, ConfigJson = different }).ResponseAsync);
    }

    private static async Task AssertStatus(StatusCode code, string field, Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(code, error.StatusCode);
        Assert.Contains(field, error.Status.Detail);
    }
}
