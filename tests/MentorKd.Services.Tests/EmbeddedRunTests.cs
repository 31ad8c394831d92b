using MentorKd.Modeling.Runtime;
using System.Diagnostics;
using System.Text.Json;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Training;
using MentorKd.Embedded;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

/// <summary>A whole Mentor-KD run through the five services in embedded mode, driven by a gRPC client of the Runs API.</summary>
public class EmbeddedRunTests
{
    [Fact]
    public async Task A_run_through_all_five_services_completes_with_its_report_and_lineage_a_restarted_platform_replays_it_and_its_mentor_teaches_another_run()
    {
        var root = EmbeddedTestRuns.NewDataRoot();
        var runId = Guid.NewGuid();
        var events = new List<RunEvent>();
        var clock = Stopwatch.StartNew();
        Run run;
        Protos.V1.RunReport report;
        await using (var platform = await EmbeddedTestRuns.StartAsync(root))
        {
            var runs = new Protos.V1.Runs.RunsClient(platform.Channel);
            run = await RunSession.RunAsync(runs, runId, EmbeddedTestRuns.Tiny(), events.Add);
            Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}");

            // The state machine recorded what every stage produced.
            Assert.EndsWith("datasets/teacher-rationales.jsonl", run.TeacherRationalesKey);
            Assert.EndsWith("checkpoints/mentor/best/", run.MentorCheckpointKey);
            Assert.EndsWith("datasets/mentor-rationales.jsonl", run.MentorRationalesKey);
            Assert.Equal(2, run.StudentCheckpointKeys.Count);
            Assert.EndsWith("reports/report.md", run.ReportKey);
            Assert.Contains((await runs.ListRunsAsync(new ListRunsRequest())).Runs, r => r.RunId == run.RunId && r.Status == RunStatus.Completed);

            // Events came in order, stage by stage, with training progress from the trainer.
            Assert.Equal(Enumerable.Range(0, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
            var stages = events.Select(e => e.Stage).Distinct().ToList();
            Assert.Equal(["data", "teacher", "tokenizer", "mentor", "augmentation"], stages[..5]);
            Assert.Equal(["fine_tune_cot", "mentor_kd"], stages[5..7].Order()); // the student arms train side by side
            Assert.Equal(["evaluation", "report"], stages[7..]);
            Assert.Contains(events, e => e.Stage == "mentor_kd" && e.Training is { Loss: > 0, TokensPerSecond: > 0 });
            Assert.Equal(RunEventKind.RunEnded, events[^1].Kind);

            report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
            Assert.True(report.MentorTestAccuracy > 0.75, $"mentor test accuracy {report.MentorTestAccuracy}");
            var mentorKd = report.Arms.Single(a => a.Arm == StudentArms.MentorKd);
            Assert.True(mentorKd.TestAccuracy > 0.75, $"Mentor-KD student test accuracy {mentorKd.TestAccuracy} should be well above chance (0.5)");
            Assert.True(mentorKd.Examples > report.Arms.Single(a => a.Arm == StudentArms.FineTuneCot).Examples, "the mentor's rationales add examples");
            Assert.Contains("## Lineage", report.Markdown);

            // The student trained on soft labels served by the mentor-server, and its loss fell.
            var store = platform.Services.GetRequiredService<IObjectStore>();
            var outcome = await ReadJsonAsync<TrainingOutcome>(store, $"runs/{run.RunId}/checkpoints/mentor_kd/outcome.json");
            Assert.All(outcome.History, h => Assert.NotNull(h.SoftTerm));
            Assert.True(outcome.History[^1].TrainLoss < outcome.History[0].TrainLoss * 0.7, $"loss {outcome.History[0].TrainLoss} -> {outcome.History[^1].TrainLoss}");
            // The config says "auto"; what it chose on this CPU is recorded with the job and named in the report.
            var chosen = TorchRuntime.DTypeName(TorchRuntime.ResolveDType("auto", "matmul_dtype"));
            Assert.Equal(chosen, outcome.MatmulDtype);
            Assert.Contains($"Matmul precision (as chosen on the host that trained each model): {chosen} for ", report.Markdown);

            // Lineage: every artefact is stored with the hash recorded, and the Mentor-KD student traces back to the mentor.
            var lineage = report.Lineage.ToDictionary(e => e.Name);
            Assert.Contains("mentor-rationales", lineage["checkpoint:mentor_kd"].DerivedFrom);
            Assert.Contains("checkpoint:mentor", lineage["checkpoint:mentor_kd"].DerivedFrom);
            Assert.DoesNotContain("mentor-rationales", lineage["checkpoint:fine_tune_cot"].DerivedFrom);
            Assert.Contains("checkpoint:mentor", lineage["mentor-rationales"].DerivedFrom);
            foreach (var name in new[] { "train-questions", "teacher-rationales", "mentor-rationales", "evaluation:mentor_kd" })
                Assert.Equal((await store.StatAsync(lineage[name].Object.Key))!.Sha256, lineage[name].Object.Sha256);
            Assert.All(report.Lineage, e => Assert.Equal(64, e.Object.Sha256.Length));

            // The run's datasets are registered with the augmentation service.
            var mentorDataset = await new Protos.V1.Datasets.DatasetsClient(platform.Channel).GetDatasetAsync(new GetDatasetRequest { DatasetId = $"{run.RunId}.mentor" });
            Assert.Equal($"{run.RunId}.train", mentorDataset.DerivedFrom);
            Assert.StartsWith("mentor:", mentorDataset.Producer);
            Assert.True((await new Protos.V1.TeacherGateway.TeacherGatewayClient(platform.Channel).GetUsageAsync(new GetUsageRequest())).Questions >= 200);

            // New questions make a retraining round; the same questions added twice make one.
            var added = new AddQuestionsRequest { RunId = run.RunId };
            added.Questions.AddRange(EmbeddedTestRuns.NewQuestions(80, seed: 99));
            var first = await runs.AddQuestionsAsync(added);
            var second = await runs.AddQuestionsAsync(added);
            Assert.Equal(first.Questions.Sha256, second.Questions.Sha256);
            var withRound = await WaitForRoundsAsync(runs, run.RunId, 1);
            var round = Assert.Single(withRound.Rounds);
            Assert.Equal(80, round.QuestionsAdded);
            Assert.Equal(480, round.TrainQuestions);
            Assert.True(round.TeacherKept > 40 && round.MentorCorrect > 40, $"round data: {round}");
            Assert.True(round.StudentTestAccuracy > 0.75, $"the retrained student's accuracy {round.StudentTestAccuracy}");
            await Task.Delay(2000);
            Assert.Single((await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId })).Rounds);
            var afterRound = await runs.GetRunAsync(new GetRunRequest { RunId = run.RunId });
            Assert.Equal(RunStatus.Completed, afterRound.Status);
            Assert.Equal(1, afterRound.RetrainingRounds);
            report = withRound;
        }
        var firstRun = clock.Elapsed;

        // A new platform on the same data (a restart) knows nothing in memory; starting the run again finds every stage done.
        clock.Restart();
        TimeSpan replay;
        await using (var restarted = await EmbeddedTestRuns.StartAsync(root, openAiPort: 0))
        {
            var runs = new Protos.V1.Runs.RunsClient(restarted.Channel);
            // Its state machine holds nothing yet, but the run is remembered as it ended.
            var remembered = await runs.GetRunAsync(new GetRunRequest { RunId = run.RunId });
            Assert.Equal(RunStatus.Completed, remembered.Status);
            Assert.Equal(run.ReportKey, remembered.ReportKey);
            Assert.Equal(1, remembered.RetrainingRounds);
            var again = await RunSession.RunAsync(runs, runId, EmbeddedTestRuns.Tiny(), _ => { });
            Assert.Equal(RunStatus.Completed, again.Status);
            var replayed = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
            Assert.Equal(report.Arms.Select(a => a.TestAccuracy), replayed.Arms.Select(a => a.TestAccuracy));
            Assert.Single(replayed.Rounds); // the finished round is not done again
            replay = clock.Elapsed;

            // The mentor this run trained, served by the mentor-server over the OpenAI API, is the `openai` teacher of another
            // run on another platform: the real HTTP path, through the OpenAI client in that run's teacher-gateway.
            await new Protos.V1.MentorServer.MentorServerClient(restarted.Channel).LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = run.MentorCheckpointKey });
            var tiny = EmbeddedTestRuns.Tiny();
            var keyFile = Path.Combine(EmbeddedTestRuns.NewDataRoot(), "first-platform.key"); // the first platform's key, as a secret file
            Directory.CreateDirectory(Path.GetDirectoryName(keyFile)!);
            await File.WriteAllTextAsync(keyFile, restarted.ApiKey);
            var taught = tiny with
            {
                Teacher = tiny.Teacher with
                {
                    Kind = "openai", Name = "first-runs-mentor", BaseUrl = new Uri(restarted.OpenAiAddress!, "v1").ToString(), Model = run.MentorCheckpointKey,
                    ApiKeyFile = keyFile, Api = "completions", Prompt = "mentorkd-cot", Temperature = 0, MaxTokens = 48, MaxConcurrentCalls = 8, // greedy: this tiny mentor is right ~96% of the time greedy, far less sampled
                },
                Arms = [StudentArms.MentorKd],
                // Its student learns from a sparse soft-label store the trainer has the mentor-server write first.
                Student = tiny.Student with { SoftLabels = SoftLabelSources.Stored },
            };
            RunConfigValidator.Validate(taught);
            await using var second = await EmbeddedTestRuns.StartAsync(EmbeddedTestRuns.NewDataRoot(), taught);
            var taughtRun = await RunSession.RunAsync(new Protos.V1.Runs.RunsClient(second.Channel), Guid.NewGuid(), taught, _ => { });
            Assert.True(taughtRun.Status == RunStatus.Completed, $"the taught run ended {taughtRun.Status} in {taughtRun.FailedStage}: {taughtRun.Error}");
            var rationales = await ReadRowsAsync<Distillation.Data.Rationale>(second.Services.GetRequiredService<IObjectStore>(), taughtRun.TeacherRationalesKey);
            Assert.Equal(200, rationales.Count);
            Assert.All(rationales, r => Assert.Equal($"openai:first-runs-mentor({run.MentorCheckpointKey})", r.Producer));
            Assert.True(rationales.Count(r => r.Correct) > 150, $"the first run's mentor got {rationales.Count(r => r.Correct)}/200 right as a teacher");
            var taughtReport = await new Protos.V1.Runs.RunsClient(second.Channel).GetReportAsync(new GetReportRequest { RunId = taughtRun.RunId });
            Assert.Contains("| teacher calls | 200 requests (200 HTTP attempts)", taughtReport.Markdown);
            Assert.Contains("prompt template mentorkd-cot", taughtReport.Markdown);
            Assert.True(taughtReport.Arms.Single().TestAccuracy > 0.75, $"the taught run's student: {taughtReport.Arms.Single().TestAccuracy}");
            var secondStore = second.Services.GetRequiredService<IObjectStore>();
            var storeKey = $"runs/{taughtRun.RunId}/soft-labels/mentor_kd.safetensors";
            var storeFile = Path.Combine(Path.GetTempPath(), $"mentorkd-store-{Guid.NewGuid():N}.safetensors");
            using (var file = File.Create(storeFile)) await secondStore.GetAsync(storeKey, file);
            var softLabels = SparseSoftLabelStore.Read(storeFile);
            File.Delete(storeFile);
            Assert.Equal((16, 2.0, taughtRun.MentorCheckpointKey), (softLabels.Info.TopK, softLabels.Info.Temperature, softLabels.Info.Mentor));
            Assert.True(softLabels.Info.Sequences > 300, $"{softLabels.Info.Sequences} sequences in the store");
            var taughtOutcome = await ReadJsonAsync<TrainingOutcome>(secondStore, $"runs/{taughtRun.RunId}/checkpoints/mentor_kd/outcome.json");
            Assert.All(taughtOutcome.History, h => Assert.True(h.SoftTerm > 0));
        }
        Assert.True(replay < firstRun / 3, $"replaying a finished run took {replay.TotalSeconds:F0}s vs {firstRun.TotalSeconds:F0}s for the run");
    }

    private static async Task<IReadOnlyList<T>> ReadRowsAsync<T>(IObjectStore store, string key)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer);
        return Distillation.Data.JsonLines.Parse<T>(System.Text.Encoding.UTF8.GetString(buffer.ToArray()).Split('\n'), key);
    }

    private static async Task<Protos.V1.RunReport> WaitForRoundsAsync(Protos.V1.Runs.RunsClient runs, string runId, int rounds)
    {
        var deadline = DateTime.UtcNow.AddMinutes(4);
        while (true)
        {
            var report = await runs.GetReportAsync(new GetReportRequest { RunId = runId });
            if (report.Rounds.Count >= rounds || DateTime.UtcNow > deadline) return report;
            await Task.Delay(500);
        }
    }

    private static async Task<T> ReadJsonAsync<T>(IObjectStore store, string key)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer);
        return JsonSerializer.Deserialize<T>(buffer.ToArray(), Augmentation.Runs.RunReportWriter.ResultsJson)!;
    }
}
