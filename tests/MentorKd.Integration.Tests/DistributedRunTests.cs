using Grpc.Core;
using MentorKd.Distillation.Pipeline;
using MentorKd.Embedded;
using MentorKd.Protos.V1;
using MentorKd.Storage;

namespace MentorKd.Integration.Tests;

/// <summary>Mentor-KD runs through the five services as separate processes, on RabbitMQ and an S3 server.</summary>
[Collection(InfrastructureCollection.Name)]
public class DistributedRunTests(Infrastructure infrastructure, Xunit.Abstractions.ITestOutputHelper output)
{
    private static RunConfig Tiny() => RunConfig.Load(Path.Combine(ServiceProcess.RepositoryRoot(), "configs", "mentor-kd.tiny.json"));

    [Fact]
    public async Task A_run_across_six_processes_with_two_trainer_replicas_completes_with_every_artefact_in_the_bucket_and_its_events_on_the_broker()
    {
        await using var observer = await RunEventObserver.StartAsync(infrastructure);
        await using var collector = await OtlpCollector.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync(infrastructure, trainers: 2, telemetry: collector.Endpoint);
        var runs = platform.Runs;
        var runId = Guid.NewGuid();

        var run = await RunSession.RunAsync(runs, runId, Tiny(), _ => { });
        Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}\n{platform["Augmentation"].Output}");

        var report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        Assert.True(report.Arms.Single(a => a.Arm == StudentArms.MentorKd).TestAccuracy > 0.75, "the Mentor-KD student should be well above chance");

        var store = new MinioObjectStore(infrastructure.NewMinioClient(), Infrastructure.Bucket);
        var keys = new List<string>();
        await foreach (var info in store.ListAsync($"runs/{run.RunId}/")) keys.Add(info.Key[$"runs/{run.RunId}/".Length..]);
        foreach (var expected in new[]
                 {
                     "config.json", "datasets/train-questions.jsonl", "datasets/teacher-rationales.jsonl", "datasets/mentor-rationales.jsonl",
                     "tokenizer/tokenizer.json", "checkpoints/mentor/best/model.safetensors", "checkpoints/mentor/outcome.json",
                     "checkpoints/fine_tune_cot/best/model.safetensors", "checkpoints/mentor_kd/best/model.safetensors",
                     "reports/report.md", "reports/results.json", "reports/lineage.json", "reports/evaluations/mentor_kd.test.jsonl",
                 })
            Assert.Contains(expected, keys);
        foreach (var entry in report.Lineage.Where(e => !e.Object.Key.EndsWith('/')))
            Assert.Equal((await store.StatAsync(entry.Object.Key))!.Sha256, entry.Object.Sha256);

        await WaitForAsync(() => RunEventObserver.RunEvents.All(observer.Seen(runId).Contains), TimeSpan.FromSeconds(30));
        Assert.Equal(RunEventObserver.RunEvents.Order(), observer.Seen(runId).Order());

        // The student arms went to the trainers' queue together: each replica took one.
        var studentJobs = report.Arms.Select(a => $"Job {run.RunId}-{a.Arm}:").ToList();
        foreach (var trainer in platform.Trainers)
            Assert.True(studentJobs.Any(trainer.Output.Contains), $"{trainer.Name} trained no student:\n{trainer.Output}");

        // One trace follows a stage across processes. Augmentation: the state machine sent the command through RabbitMQ,
        // the augmentation consumer took it and called the mentor-server over gRPC, whose server span is its child.
        string Chain(IEnumerable<CollectedSpan> spans) => string.Join(" <- ", spans.Select(x => $"{x.Service}:{x.Name}"));
        await WaitForAsync(() => collector.Spans.Any(x => x.Service == "mentorserver" && x.Kind == 2 && x.Name.Contains("MentorServer/Generate")), TimeSpan.FromSeconds(30));
        Assert.True(collector.Spans.Any(x => x.Service == "mentorserver"), $"no span from the mentor-server; services seen: {string.Join(", ", collector.Spans.Select(x => x.Service).Distinct())}");
        var generate = collector.Spans.First(x => x.Service == "mentorserver" && x.Kind == 2 && x.Name.Contains("MentorServer/Generate"));
        var augmentation = collector.Ancestry(generate);
        Assert.True(augmentation.Any(x => x.Service == "augmentation" && x.Name == "augmentation") // the work span
            && augmentation.Any(x => x.Service == "augmentation" && x.Scope == "MassTransit" && x.Kind != 4) // its receive and consume, from the broker
            && augmentation.Any(x => x.Service == "augmentation" && x.Scope == "MassTransit" && x.Kind == 4), // the state machine's send
            $"the mentor-server's Generate span does not lead back through the broker to the run: {Chain(augmentation)}");
        // Training: the state machine's TrainModel went through the broker to a trainer replica, whose work span is in its trace.
        var training = collector.Spans.First(x => x.Service.StartsWith("trainer") && x.Name == "training" && x.Attributes.GetValueOrDefault("mentorkd.work.id") == $"{run.RunId}-mentor");
        var mentorChain = collector.Ancestry(training);
        Assert.True(mentorChain.Any(x => x.Service == "augmentation" && x.Scope == "MassTransit" && x.Kind == 4), $"the mentor's training does not lead back to the run: {Chain(mentorChain)}");
        Assert.True(augmentation.Select(x => x.TraceId).Distinct().Count() == 1 && mentorChain.Select(x => x.TraceId).Distinct().Count() == 1);
        // Metrics: each service's work, the mentor-server's calls, the trainers' throughput and their queue's depth on the broker.
        bool Reported() => collector.Metrics.Keys.Any(k => k.Service.StartsWith("trainer") && k.Metric == "mentorkd.work.duration")
            && collector.Metrics.ContainsKey(("mentorserver", "mentorkd.mentor_server.calls_in_flight")) && collector.Metrics.ContainsKey(("teachergateway", "mentorkd.teacher.calls"))
            && collector.Metrics.Keys.Any(k => k.Metric == "mentorkd.training.tokens_per_second")
            && collector.Metrics.Keys.Any(k => k.Service.StartsWith("trainer") && k.Metric == "mentorkd.queue.depth");
        await WaitForAsync(Reported, TimeSpan.FromSeconds(30));
        Assert.True(Reported(), "metrics reported: " + string.Join(", ", collector.Metrics.Keys.Where(k => k.Metric.StartsWith("mentorkd")).Select(k => $"{k.Service}:{k.Metric}")));
    }

    [Fact]
    public async Task An_fdd_run_and_a_mentor_kd_fdd_run_side_by_side_complete_their_rounds_and_baselines_with_reports_and_charts_in_the_bucket()
    {
        await using var platform = await DistributedPlatform.StartAsync(infrastructure);
        var runs = platform.Runs;
        var fdd = new FddConfig { Rounds = 1, PoolSample = 40, HarderPerEasy = 1, SimilarPerHard = 1 };
        var configs = new[]
        {
            Tiny() with { Name = "fdd-alone", Method = RunMethods.Fdd, Fdd = fdd, Arms = [StudentArms.FineTuneCot] },
            // Its students (the first, and each round's) learn from sparse soft-label stores in the bucket.
            Tiny() with { Name = "mentor-kd-fdd", Method = RunMethods.MentorKdFdd, Fdd = fdd, Arms = [StudentArms.MentorKd], Student = Tiny().Student with { SoftLabels = SoftLabelSources.Stored } },
        };

        var ended = await Task.WhenAll(configs.Select(c => RunSession.RunAsync(runs, Guid.NewGuid(), c, _ => { })));

        var store = new MinioObjectStore(infrastructure.NewMinioClient(), Infrastructure.Bucket);
        foreach (var (run, config) in ended.Zip(configs))
        {
            Assert.True(run.Status == RunStatus.Completed, $"{config.Name} ended {run.Status} in {run.FailedStage}: {run.Error}\n{platform["Augmentation"].Output}");
            var report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
            var round = Assert.Single(report.FddRounds);
            Assert.Equal(40, round.Pool);
            Assert.Equal(40, round.Easy + round.Hard);
            Assert.True(round.HarderAccepted + round.SimilarAccepted > 0 && round.BaselineAccepted > 0, $"{config.Name}: {round}");
            Assert.Equal(new[] { "fdd", "fdd_baseline" }, report.Rounds.Select(r => r.Track));
            Assert.Equal(config.Method == RunMethods.MentorKdFdd, report.MentorTestAccuracy > 0);
            var root = $"runs/{run.RunId}/";
            foreach (var key in new[] { "fdd/1/pool-answers.jsonl", "fdd/1/new-questions.jsonl", "fdd/1/baseline-questions.jsonl", "reports/rounds.md",
                         "reports/fdd-rounds.json", "reports/fdd-accuracy.png", "reports/fdd-training-set-by-difficulty.png" })
                Assert.True(await store.StatAsync(root + key) is not null, $"{config.Name}: {key} is not in the bucket");
            Assert.Contains(report.Plots, p => p.Key == root + "reports/fdd-accuracy.png");
            if (config.Method == RunMethods.MentorKdFdd)
                foreach (var job in new[] { "mentor_kd", "round1-mentor_kd", "round2-mentor_kd" })
                    Assert.True(await store.StatAsync(root + $"soft-labels/{job}.safetensors") is not null, $"no soft-label store for {job}");
        }
    }

    [Fact]
    public async Task A_run_survives_the_trainer_replica_holding_its_mentor_being_killed_and_the_broker_restarting()
    {
        await using var observer = await RunEventObserver.StartAsync(infrastructure);
        await using var platform = await DistributedPlatform.StartAsync(infrastructure, trainers: 2);
        var runs = platform.Runs;
        var runId = Guid.NewGuid();
        var config = Tiny() with { Mentor = Tiny().Mentor with { Training = Tiny().Mentor.Training with { Epochs = 16 } } };
        var mentorJob = $"Job {runId:D}-mentor:";

        int killedAtEpoch = 0;
        ServiceProcess? killed = null;
        bool brokerRestarted = false;
        Task faults = Task.CompletedTask;
        var run = await RunSession.RunAsync(runs, runId, config, e =>
        {
            if (e.Stage == "mentor" && e.Training is { Epoch: >= 4 } progress && killed is null)
            {
                // Kill the replica training the mentor, as a crash would; the other one is left to take the job over.
                killedAtEpoch = progress.Epoch;
                killed = platform.Trainers.Single(t => t.Output.Contains(mentorJob));
                faults = killed.KillAsync();
            }
            else if (e.Stage == "fine_tune_cot" && !brokerRestarted && faults.IsCompleted)
            {
                brokerRestarted = true;
                faults = infrastructure.RestartRabbitMqAsync(TimeSpan.FromSeconds(3));
            }
        });
        await faults;

        Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}\n{platform["Augmentation"].Output}");
        Assert.True(killed is not null && brokerRestarted, $"faults injected: trainer killed at epoch {killedAtEpoch}, broker restarted {brokerRestarted}");
        // The surviving replica took the mentor job over from its last stored epoch instead of starting over.
        var survivor = platform.Trainers.Single(t => t != killed);
        var takeOver = System.Text.RegularExpressions.Regex.Match(survivor.Output, System.Text.RegularExpressions.Regex.Escape(mentorJob) + @".*resuming after epoch (\d+)");
        Assert.True(takeOver.Success, $"{survivor.Name} did not resume the mentor job:\n{survivor.Output}");
        Assert.True(int.Parse(takeOver.Groups[1].Value) >= killedAtEpoch - 1,
            $"the mentor job went back to epoch {takeOver.Groups[1].Value} after being killed during epoch {killedAtEpoch}");
        await WaitForAsync(() => RunEventObserver.RunEvents.All(observer.Seen(runId).Contains), TimeSpan.FromSeconds(60));
        Assert.DoesNotContain("RunFailed", observer.Seen(runId));
        output.WriteLine($"FAULT | trainer replica holding the mentor killed during epoch {killedAtEpoch} | completed | the other replica resumed after epoch {takeOver.Groups[1].Value}");
        output.WriteLine("FAULT | broker stopped for 3 s and started again while the students trained | completed | every run event on the broker, none failed");
    }

    [Fact]
    public async Task A_run_carries_on_by_itself_after_the_process_hosting_its_state_machine_is_killed_mid_run()
    {
        await using var platform = await DistributedPlatform.StartAsync(infrastructure);
        var runs = platform.Runs;
        var config = Tiny() with { Mentor = Tiny().Mentor with { Training = Tiny().Mentor.Training with { Epochs = 16 } } };
        var run = await runs.StartRunAsync(new StartRunRequest { ConfigJson = System.Text.Json.JsonSerializer.Serialize(config, RunConfig.Json) });
        using (var watch = runs.WatchRun(new WatchRunRequest { RunId = run.RunId }))
            await foreach (var e in watch.ResponseStream.ReadAllAsync())
                if (e.Stage == "mentor" && e.Training is { Epoch: >= 3 }) break;

        // Killed, as a crash would, and started again; nobody calls StartRun. The run is read only through the Runs API.
        await platform.RestartAsync("Augmentation");
        var ended = await FollowUntilEndedAsync(runs, run.RunId, TimeSpan.FromMinutes(6));
        Assert.True(ended.Status == RunStatus.Completed, $"run ended {ended.Status} in {ended.FailedStage}: {ended.Error}\n{platform["Augmentation"].Output}");
        var report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        Assert.True(report.Arms.Single(a => a.Arm == StudentArms.MentorKd).TestAccuracy > 0.75, "the Mentor-KD student should be well above chance");
        Assert.Contains(run.RunId, platform["Augmentation"].Output); // "Carrying on unfinished run …"
        output.WriteLine("FAULT | process holding the run state machine killed during the mentor's 3rd epoch and started again | completed, nobody resubmitting | " +
            $"Mentor-KD student {report.Arms.Single(a => a.Arm == StudentArms.MentorKd).TestAccuracy:P1}");
    }

    /// <summary>WatchRun until the run's end event; a stream that closes before it (the run not yet picked up again) is reopened.</summary>
    private static async Task<Run> FollowUntilEndedAsync(Protos.V1.Runs.RunsClient runs, string runId, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var watch = runs.WatchRun(new WatchRunRequest { RunId = runId }, deadline: deadline);
                await foreach (var e in watch.ResponseStream.ReadAllAsync())
                    if (e.Kind == RunEventKind.RunEnded) return await runs.GetRunAsync(new GetRunRequest { RunId = runId });
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.NotFound) { }
            await Task.Delay(1000);
        }
        return await runs.GetRunAsync(new GetRunRequest { RunId = runId });
    }

    [Fact]
    public async Task Questions_uploaded_to_a_runs_incoming_prefix_and_announced_twice_by_the_bucket_make_one_retraining_round()
    {
        await using var platform = await DistributedPlatform.StartAsync(infrastructure);
        var runs = platform.Runs;
        var run = await RunSession.RunAsync(runs, Guid.NewGuid(), Tiny(), _ => { });
        Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}");

        // A user uploads new questions under the run's incoming/ prefix; MinIO announces the upload (here, twice).
        var store = new MinioObjectStore(infrastructure.NewMinioClient(), Infrastructure.Bucket);
        var key = $"runs/{run.RunId}/incoming/batch 1.jsonl";
        var task = new Distillation.Tasks.Synthetic.CoinFlipTask();
        var random = new Random(77);
        var questions = Enumerable.Range(0, 80).Select(i => task.Generate(random, $"upload-{i:D3}", 3)).ToList();
        var jsonl = string.Concat(questions.Select(q => System.Text.Json.JsonSerializer.Serialize(q, Distillation.Data.JsonLines.Options) + "\n"));
        var uploaded = await store.PutAsync(key, new MemoryStream(System.Text.Encoding.UTF8.GetBytes(jsonl)));
        var notification = MinioNotification(Infrastructure.Bucket, key, uploaded.Size);
        await PublishRawAsync(BucketNotificationExchange, notification);
        await PublishRawAsync(BucketNotificationExchange, notification);

        var deadline = DateTime.UtcNow.AddMinutes(4);
        Protos.V1.RunReport report;
        do
        {
            await Task.Delay(1000);
            report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        } while (report.Rounds.Count == 0 && DateTime.UtcNow < deadline);
        await Task.Delay(3000);
        report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        var round = Assert.Single(report.Rounds);
        Assert.Equal(80, round.QuestionsAdded);
        Assert.True(round.StudentTestAccuracy > 0.75, $"retrained student test accuracy {round.StudentTestAccuracy}");
        Assert.Equal(uploaded.Sha256, round.QuestionsSha256);
        foreach (var expected in new[] { "rounds/1/teacher-rationales.jsonl", "rounds/1/mentor-rationales.jsonl", "rounds/1/train-questions.jsonl", "reports/rounds.md" })
            Assert.NotNull(await store.StatAsync($"runs/{run.RunId}/{expected}"));
    }

    private const string BucketNotificationExchange = "mentorkd-bucket-events";

    /// <summary>What MinIO's AMQP target publishes for an upload: plain JSON, the object key URL-encoded.</summary>
    private static string MinioNotification(string bucket, string key, long size) => System.Text.Json.JsonSerializer.Serialize(new
    {
        EventName = "s3:ObjectCreated:Put",
        Key = $"{bucket}/{key}",
        Records = new[]
        {
            new
            {
                eventVersion = "2.0", eventSource = "minio:s3", eventTime = DateTime.UtcNow.ToString("O"), eventName = "s3:ObjectCreated:Put",
                s3 = new
                {
                    s3SchemaVersion = "1.0", configurationId = "Config",
                    bucket = new { name = bucket, arn = $"arn:aws:s3:::{bucket}" },
                    @object = new { key = Uri.EscapeDataString(key), size, eTag = "0123456789abcdef", contentType = "application/octet-stream", sequencer = "1" },
                },
            },
        },
    });

    private async Task PublishRawAsync(string exchange, string json)
    {
        var factory = new RabbitMQ.Client.ConnectionFactory
        {
            HostName = infrastructure.RabbitHost, Port = infrastructure.RabbitPort, UserName = Infrastructure.RabbitUser, Password = Infrastructure.RabbitPassword,
        };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var properties = new RabbitMQ.Client.BasicProperties { ContentType = "application/json", DeliveryMode = RabbitMQ.Client.DeliveryModes.Persistent };
        await channel.BasicPublishAsync(exchange, "", mandatory: false, properties, System.Text.Encoding.UTF8.GetBytes(json));
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition() && DateTime.UtcNow < deadline) await Task.Delay(200);
    }
}
