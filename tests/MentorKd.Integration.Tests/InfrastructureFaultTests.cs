using System.Text.Json;
using System.Text.RegularExpressions;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Training;
using MentorKd.Embedded;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using MentorKd.Tests.Shared;
using Xunit.Abstractions;
using Question = MentorKd.Distillation.Data.Question;
using Rationale = MentorKd.Distillation.Data.Rationale;

namespace MentorKd.Integration.Tests;

/// <summary>
/// A run through the five processes while what they depend on fails under them: the S3 server goes away in the middle
/// of the mentor's checkpoint upload, and the mentor-server is killed and started again while it samples the mentor's
/// rationales. The run completes with nothing lost or duplicated. Each fault prints a FAULT line (`make faults`).
/// </summary>
[Collection(InfrastructureCollection.Name)]
public class InfrastructureFaultTests(Infrastructure infrastructure, ITestOutputHelper output)
{
    private static RunConfig Tiny() => RunConfig.Load(Path.Combine(ServiceProcess.RepositoryRoot(), "configs", "mentor-kd.tiny.json"));

    [Fact]
    public async Task A_run_completes_whole_when_the_object_store_vanishes_mid_checkpoint_upload_and_the_mentor_server_restarts_mid_augmentation()
    {
        // Every service reaches S3 through the proxy; the direct client below checks what the bucket holds.
        await using var proxy = await OutageProxy.StartAsync(infrastructure.S3Host, infrastructure.S3Port);
        await using var platform = await DistributedPlatform.StartAsync(infrastructure, s3Endpoint: proxy.Endpoint);
        var runId = Guid.NewGuid();
        var config = Tiny();
        // The mentor's third per-epoch checkpoint upload (its weights, to the job's workspace slot) is cut halfway and the
        // server stays away for 20 s: longer than the trainer's lease, the services' message retries' first steps and a slice.
        var outage = TimeSpan.FromSeconds(20);
        proxy.GoDownOn(new Regex($@"PUT /{Infrastructure.Bucket}/trainer/jobs/{runId:D}-mentor/workspace/[ab]/last/model\.safetensors"), occurrence: 3, outage);

        Task restart = Task.CompletedTask;
        double restartedAt = 0;
        var started = DateTime.UtcNow;
        var timeline = new List<string>();
        string? stage = null;
        var run = await RunSession.RunAsync(platform.Runs, runId, config, e =>
        {
            if (e.Stage != stage) timeline.Add($"{(DateTime.UtcNow - started).TotalSeconds,6:0.0} s  {stage = e.Stage}");
            if (e.Stage == "augmentation" && e.Kind == RunEventKind.StageProgress && e.Total > 0 && e.Done >= e.Total / 4 && e.Done < e.Total && restartedAt == 0)
            {
                restartedAt = e.Done;
                restart = platform.RestartAsync("MentorServer"); // killed, as a crash would, and started again on its port
            }
        });
        await restart;
        var took = DateTime.UtcNow - started;
        output.WriteLine(string.Join("\n", timeline));

        Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}\n{platform["Augmentation"].Output}\n{platform["Trainer"].Output}");
        var cut = Assert.Single(proxy.Outages);
        Assert.True(cut.To - cut.From >= outage - TimeSpan.FromSeconds(1), $"the outage lasted {(cut.To - cut.From).TotalSeconds:0.0} s");
        Assert.True(restartedAt > 0, "the mentor-server was not restarted during augmentation");

        var store = new MinioObjectStore(infrastructure.NewMinioClient(), Infrastructure.Bucket);
        var root = $"runs/{runId:D}/";
        // The mentor trained each epoch once: none lost to the cut upload, none repeated after it.
        var mentor = await ReadJsonAsync<TrainingOutcome>(store, root + "checkpoints/mentor/outcome.json", RunConfig.Json);
        Assert.Equal(Enumerable.Range(1, config.Mentor.Training.Epochs), mentor.History.Select(h => h.Epoch));
        // The mentor sampled every training question once, though its server restarted halfway.
        var questions = await ReadLinesAsync<Question>(store, root + "datasets/train-questions.jsonl");
        var augmented = await ReadJsonAsync<QuestionsAugmented>(store, root + "datasets/mentor-rationales.jsonl.outcome.json", JsonLines.Options);
        Assert.Equal(questions.Count * config.Augmentation.SamplesPerQuestion, augmented.Samples);
        var rationales = await ReadLinesAsync<Rationale>(store, root + "datasets/mentor-rationales.jsonl");
        Assert.Equal(augmented.Correct, rationales.Count);
        Assert.Equal(rationales.Count, rationales.Select(r => r.QuestionId).Distinct().Count());
        // Every artefact the report lists is in the bucket as it was recorded.
        var report = await platform.Runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        foreach (var entry in report.Lineage.Where(e => !e.Object.Key.EndsWith('/')))
            Assert.Equal((await store.StatAsync(entry.Object.Key))!.Sha256, entry.Object.Sha256);
        Assert.True(report.Arms.Single(a => a.Arm == StudentArms.MentorKd).TestAccuracy > 0.75, "the Mentor-KD student should be well above chance");

        output.WriteLine($"FAULT | S3 server away {outage.TotalSeconds:0} s from the middle of the mentor's 3rd checkpoint upload | completed in {took.TotalSeconds:0} s | " +
            $"mentor epochs {mentor.History.Count}/{config.Mentor.Training.Epochs}, none repeated; {report.Lineage.Count} lineage objects match their hashes");
        output.WriteLine($"FAULT | mentor-server killed and restarted at {restartedAt:0}/{questions.Count} questions of augmentation | completed | " +
            $"{augmented.Samples} samples for {questions.Count} questions × {config.Augmentation.SamplesPerQuestion}, {rationales.Count} kept, no question twice");
    }

    private static async Task<T> ReadJsonAsync<T>(IObjectStore store, string key, JsonSerializerOptions options)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer);
        return JsonSerializer.Deserialize<T>(buffer.ToArray(), options)!;
    }

    private static async Task<IReadOnlyList<T>> ReadLinesAsync<T>(IObjectStore store, string key)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer);
        return JsonLines.Parse<T>(System.Text.Encoding.UTF8.GetString(buffer.ToArray()).Split('\n'), key);
    }
}
