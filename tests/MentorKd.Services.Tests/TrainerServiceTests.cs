using Grpc.Core;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Teachers;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Tokenization;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Trainer.Extensions;
using Microsoft.Extensions.DependencyInjection;
using Question = MentorKd.Distillation.Data.Question;
using Rationale = MentorKd.Distillation.Data.Rationale;

namespace MentorKd.Services.Tests;

public class TrainerServiceTests
{
    // A trainer replica as its Program.cs builds it. Replicas given the same store folder share jobs' state, as
    // replicas sharing a bucket do (each host's in-memory bus is its own, so they do not share a queue here).
    private static Task<TestServiceHost> StartTrainer(string storeRoot, int sliceSeconds = 300, int concurrentJobs = 1, bool fixedThreadShare = false) => TestServiceHost.StartAsync(
        b => b.AddTrainer().AddMessaging(bus => bus.AddTrainerMessaging()), a => a.MapTrainer(),
        new Dictionary<string, string?>
        {
            ["ObjectStore:Root"] = storeRoot, ["Trainer:WorkRoot"] = Path.Combine(Path.GetDirectoryName(storeRoot)!, $"work-{Guid.NewGuid():N}"), ["Trainer:Threads"] = "2", ["Trainer:SliceSeconds"] = sliceSeconds.ToString(), ["Trainer:LeaseSeconds"] = "4",
            ["Trainer:ConcurrentJobs"] = concurrentJobs.ToString(), ["Trainer:FixedThreadShare"] = fixedThreadShare.ToString(),
        });

    private static async Task<TestServiceHost> StartWithData(int questions = 160, int sliceSeconds = 300, string? storeRoot = null, int concurrentJobs = 1,
        bool fixedThreadShare = false)
    {
        storeRoot ??= Path.Combine(Path.GetTempPath(), "mentorkd-service-tests", Guid.NewGuid().ToString("N"), "objects");
        var folder = Path.GetDirectoryName(storeRoot)!;
        var host = await StartTrainer(storeRoot, sliceSeconds, concurrentJobs, fixedThreadShare);
        var store = host.Services.GetRequiredService<IObjectStore>();
        var task = new CoinFlipTask();
        var random = new Random(8);
        var train = Enumerable.Range(0, questions).Select(i => task.Generate(random, $"train-{i}", 2)).ToList();
        var dev = Enumerable.Range(0, 10).Select(i => task.Generate(random, $"dev-{i}", 2)).ToList();
        var teacher = new SimulatedTeacher(task, 0.1, 1);
        var rationales = new List<Rationale>();
        foreach (var q in train) rationales.AddRange(await teacher.AnnotateAsync(q, 1, CancellationToken.None));
        await Put(store, "runs/t/datasets/train-questions.jsonl", train);
        await Put(store, "runs/t/datasets/dev-questions.jsonl", dev);
        await Put(store, "runs/t/datasets/teacher-rationales.jsonl", rationales);
        var tokenizer = WordTokenizer.FromCorpus(train.Select(CotFormat.Prompt).Concat(rationales.Select(r => CotFormat.Target(r.Text, "yes no"))));
        var tokenizerFolder = Path.Combine(folder, "tokenizer");
        tokenizer.Save(tokenizerFolder);
        await store.UploadAsync(tokenizerFolder, "runs/t/tokenizer");
        return host;
    }

    private static async Task Put<T>(IObjectStore store, string key, IEnumerable<T> rows)
    {
        var path = Path.GetTempFileName();
        JsonLines.Write(path, rows);
        await using var stream = File.OpenRead(path);
        await store.PutAsync(key, stream);
    }

    private static StartTrainingJobRequest Request(string jobId, int epochs = 4) => new()
    {
        JobId = jobId,
        Role = TrainingRole.Mentor,
        TrainQuestionsKey = "runs/t/datasets/train-questions.jsonl",
        RationaleKeys = { "runs/t/datasets/teacher-rationales.jsonl" },
        DevQuestionsKey = "runs/t/datasets/dev-questions.jsonl",
        TokenizerKey = "runs/t/tokenizer/",
        Model = new ModelShape { Layers = 2, Heads = 2, Embedding = 64, ContextLength = 96 },
        Training = new TrainingParameters { Epochs = epochs, BatchSize = 16, LearningRate = 3e-3, WarmupSteps = 5, Seed = 1, EvalMaxNewTokens = 40 },
        SoftLabels = new SoftLabelSource { Kind = SoftLabelSourceKind.None },
        OutputKey = $"runs/t/checkpoints/{jobId}/",
    };

    [Fact]
    public async Task A_job_runs_in_the_background_in_slices_through_the_queue_streams_progress_and_stores_its_best_checkpoint()
    {
        // Zero-second slices: every epoch ends a slice, and the job goes back to the queue before the next.
        await using var host = await StartWithData(sliceSeconds: 0);
        var client = new Protos.V1.Trainer.TrainerClient(host.Channel);
        var started = await client.StartJobAsync(Request("mentor-1"));
        Assert.Equal("mentor-1", started.JobId);
        Assert.Equal(started.JobId, (await client.StartJobAsync(Request("mentor-1"))).JobId); // idempotent

        var progress = new List<TrainingProgress>();
        using (var watch = client.WatchJob(new WatchJobRequest { JobId = "mentor-1" }, deadline: DateTime.UtcNow.AddMinutes(5)))
            await foreach (var p in watch.ResponseStream.ReadAllAsync()) progress.Add(p);

        var job = await client.GetJobAsync(new GetJobRequest { JobId = "mentor-1" });
        Assert.True(job.State == JobState.Completed, $"job ended {job.State}: {job.Error}");
        Assert.Equal(JobState.Completed, progress[^1].State);
        var training = progress.Where(p => p.Step > 0).ToList();
        Assert.True(training.Count > 3);
        Assert.True(training.Zip(training.Skip(1)).All(pair => pair.Second.Step >= pair.First.Step), "steps only move forward: " + string.Join(",", training.Select(p => $"{p.Step}/{p.State}")));
        Assert.True(training[^1].Loss < training[0].Loss, $"loss should fall: {training[0].Loss} -> {training[^1].Loss}");
        Assert.True(training[^1].TokensPerSecond > 0);
        Assert.Equal("runs/t/checkpoints/mentor-1/best/", job.BestCheckpoint.Key);
        Assert.NotNull(await host.Services.GetRequiredService<IObjectStore>().StatAsync("runs/t/checkpoints/mentor-1/best/model.safetensors"));
    }

    [Fact]
    public async Task A_job_started_from_a_checkpoint_takes_its_weights_and_one_of_another_shape_fails_naming_the_key()
    {
        await using var host = await StartWithData(questions: 64);
        var client = new Protos.V1.Trainer.TrainerClient(host.Channel);
        var store = host.Services.GetRequiredService<IObjectStore>();
        var first = await TrainToTheEndAsync(client, Request("first", epochs: 2));
        Assert.True(first.State == JobState.Completed, $"job ended {first.State}: {first.Error}");

        // At a vanishing learning rate the continued job's weights stay the ones it started from (random ones would not).
        var continued = Request("continued", epochs: 1);
        continued.InitCheckpointKey = first.BestCheckpoint.Key;
        continued.Training.LearningRate = 1e-12;
        var job = await TrainToTheEndAsync(client, continued);
        Assert.True(job.State == JobState.Completed, $"job ended {job.State}: {job.Error}");
        var folder = Path.Combine(Path.GetTempPath(), "mentorkd-service-tests", Guid.NewGuid().ToString("N"));
        await store.DownloadAsync(first.BestCheckpoint.Key, Path.Combine(folder, "first"));
        await store.DownloadAsync(job.BestCheckpoint.Key, Path.Combine(folder, "continued"));
        using (var before = Modeling.Checkpoints.GptCheckpoint.LoadModel(Path.Combine(folder, "first")))
        using (var after = Modeling.Checkpoints.GptCheckpoint.LoadModel(Path.Combine(folder, "continued")))
        {
            var weights = after.state_dict();
            foreach (var (name, value) in before.state_dict())
                Assert.True(value.allclose(weights[name], rtol: 0, atol: 1e-6), $"{name} moved away from the checkpoint the job started from");
        }

        var wider = Request("wider", epochs: 1);
        wider.InitCheckpointKey = first.BestCheckpoint.Key;
        wider.Model.Layers = 3;
        var failed = await TrainToTheEndAsync(client, wider);
        Assert.Equal(JobState.Failed, failed.State);
        Assert.Contains("init_checkpoint_key", failed.Error);
        Assert.Contains("2-layer", failed.Error);
    }

    [Fact]
    public async Task A_job_started_from_a_pretrained_llama_folder_trains_that_model_in_its_own_shape_and_one_with_too_few_token_ids_fails_naming_the_key()
    {
        await using var host = await StartWithData(questions: 64);
        var client = new Protos.V1.Trainer.TrainerClient(host.Channel);
        var store = host.Services.GetRequiredService<IObjectStore>();
        var folder = Path.Combine(Path.GetTempPath(), "mentorkd-service-tests", Guid.NewGuid().ToString("N"));
        await store.DownloadAsync("runs/t/tokenizer/", Path.Combine(folder, "tokenizer"));
        int vocab = TokenizerFiles.Load(Path.Combine(folder, "tokenizer")).VocabSize;
        async Task<string> PutLlama(string name, int vocabSize)
        {
            var config = Modeling.Model.LlamaConfig.Small(vocabSize, layers: 2, heads: 2, keyValueHeads: 1, hidden: 32, intermediate: 64, contextLength: 128);
            using var model = new Modeling.Model.LlamaLanguageModel(config, new TorchSharp.torch.Generator(5));
            Modeling.Checkpoints.LlamaCheckpoint.Save(model, Path.Combine(folder, name));
            await store.UploadAsync(Path.Combine(folder, name), $"models/{name}/");
            return $"models/{name}/";
        }

        // Its own shape (layers, heads and embedding left at 0); a vanishing learning rate leaves the pretrained weights in place.
        var pretrained = Request("from-llama", epochs: 1);
        pretrained.InitCheckpointKey = await PutLlama("llama-tiny", vocab + 3); // wider than the tokenizer, as Qwen's embeddings are
        pretrained.Model = new ModelShape { ContextLength = 96 };
        pretrained.Training.LearningRate = 1e-12;
        var job = await TrainToTheEndAsync(client, pretrained);
        Assert.True(job.State == JobState.Completed, $"job ended {job.State}: {job.Error}");
        await store.DownloadAsync(job.BestCheckpoint.Key, Path.Combine(folder, "trained"));
        Assert.Equal("llama", Modeling.Checkpoints.ModelCheckpoints.ModelTypeOf(Path.Combine(folder, "trained")));
        using (var before = Modeling.Checkpoints.ModelCheckpoints.LoadModel(Path.Combine(folder, "llama-tiny")))
        using (var after = Modeling.Checkpoints.ModelCheckpoints.LoadModel(Path.Combine(folder, "trained")))
        {
            Assert.Equal(before.ParameterCount, job.Parameters);
            var weights = after.state_dict();
            foreach (var (name, value) in before.state_dict())
                Assert.True(value.allclose(weights[name], rtol: 0, atol: 1e-6), $"{name} is not the pretrained model's");
        }

        var narrow = Request("narrow-llama", epochs: 1);
        narrow.InitCheckpointKey = await PutLlama("llama-narrow", vocab - 2);
        narrow.Model = new ModelShape { ContextLength = 96 };
        var failed = await TrainToTheEndAsync(client, narrow);
        Assert.Equal(JobState.Failed, failed.State);
        Assert.Contains("init_checkpoint_key", failed.Error);
        Assert.Contains("fewer than the tokenizer's", failed.Error);

        // A from-scratch shape beside a Llama checkpoint is a contradiction, named.
        var shaped = Request("shaped-llama", epochs: 1);
        shaped.InitCheckpointKey = "models/llama-tiny/";
        var contradiction = await TrainToTheEndAsync(client, shaped);
        Assert.Equal(JobState.Failed, contradiction.State);
        Assert.Contains("leave model.layers, heads and embedding at 0", contradiction.Error);
    }

    private static async Task<TrainingJob> TrainToTheEndAsync(Protos.V1.Trainer.TrainerClient client, StartTrainingJobRequest request)
    {
        await client.StartJobAsync(request);
        using (var watch = client.WatchJob(new WatchJobRequest { JobId = request.JobId }, deadline: DateTime.UtcNow.AddMinutes(5)))
            await foreach (var _ in watch.ResponseStream.ReadAllAsync()) { }
        return await client.GetJobAsync(new GetJobRequest { JobId = request.JobId });
    }

    [Fact]
    public async Task A_job_whose_replica_stops_mid_job_resumes_on_another_replica_from_its_stored_checkpoint()
    {
        var storeRoot = Path.Combine(Path.GetTempPath(), "mentorkd-service-tests", Guid.NewGuid().ToString("N"), "objects");
        int stoppedAfterEpoch = 0;
        await using (var first = await StartWithData(storeRoot: storeRoot))
        {
            var client = new Protos.V1.Trainer.TrainerClient(first.Channel);
            await client.StartJobAsync(Request("moved", epochs: 30));
            using var watch = client.WatchJob(new WatchJobRequest { JobId = "moved" });
            await foreach (var p in watch.ResponseStream.ReadAllAsync())
                if (p.Epoch >= 4) { stoppedAfterEpoch = p.Epoch - 1; break; } // epoch 3's checkpoint is stored when epoch 4 starts
        } // the replica stops; its in-memory queue goes with it

        await using var second = await StartTrainer(storeRoot);
        var other = new Protos.V1.Trainer.TrainerClient(second.Channel);
        var stored = await other.GetJobAsync(new GetJobRequest { JobId = "moved" });
        Assert.True(stored.State is JobState.Queued or JobState.Running, $"the stopped job is {stored.State}");
        await other.StartJobAsync(Request("moved", epochs: 30));
        var progress = new List<TrainingProgress>();
        using (var watch = other.WatchJob(new WatchJobRequest { JobId = "moved" }, deadline: DateTime.UtcNow.AddMinutes(5)))
            await foreach (var p in watch.ResponseStream.ReadAllAsync()) progress.Add(p);
        var job = await other.GetJobAsync(new GetJobRequest { JobId = "moved" });
        Assert.True(job.State == JobState.Completed, $"job ended {job.State}: {job.Error}");
        // The stored record is where the job resumes: at least past the epoch seen ending on the first replica, and no
        // step here goes back before it. (The watch may open on that stored record itself, so its epoch proves nothing.)
        Assert.True(stored.Progress.Epoch >= stoppedAfterEpoch, $"the stored job is at epoch {stored.Progress.Epoch}, before epoch {stoppedAfterEpoch} that ended on the first replica");
        var wentBack = progress.Where(p => p.Step > 0 && p.Step < stored.Progress.Step).ToList();
        Assert.True(wentBack.Count == 0, $"the job went back to step {wentBack.FirstOrDefault()?.Step} (epoch {wentBack.FirstOrDefault()?.Epoch}) after its replica stopped at step {stored.Progress.Step} (epoch {stored.Progress.Epoch})");
    }

    [Fact]
    public async Task A_training_command_delivered_again_after_its_job_ended_publishes_the_same_end_and_trains_nothing()
    {
        await using var host = await StartWithData(questions: 60);
        var client = new Protos.V1.Trainer.TrainerClient(host.Channel);
        await client.StartJobAsync(Request("once", epochs: 2));
        using (var watch = client.WatchJob(new WatchJobRequest { JobId = "once" }, deadline: DateTime.UtcNow.AddMinutes(5)))
            await foreach (var _ in watch.ResponseStream.ReadAllAsync()) { }
        var done = await client.GetJobAsync(new GetJobRequest { JobId = "once" });
        Assert.Equal(JobState.Completed, done.State);

        var bus = host.Services.GetRequiredService<IBus>();
        var ended = new TaskCompletionSource<TrainingJob>(TaskCreationOptions.RunContinuationsAsynchronously);
        var observer = bus.ConnectReceiveEndpoint("test-training-job-ended", e => e.Handler<TrainingJobEnded>(c =>
        {
            ended.TrySetResult(c.Message.ReadJob());
            return Task.CompletedTask;
        }));
        await observer.Ready;
        var queue = await bus.GetSendEndpoint(new Uri($"queue:{TrainModel.Queue}"));
        await queue.Send(TrainModel.For(Request("once", epochs: 2)));

        var again = await ended.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(done, again);
        Assert.Equal(done, await client.GetJobAsync(new GetJobRequest { JobId = "once" }));
        Assert.Equal(done, await client.StartJobAsync(Request("once", epochs: 2))); // through the API too
        await observer.StopAsync();
    }

    [Fact]
    public async Task A_job_can_be_cancelled()
    {
        await using var host = await StartWithData();
        var client = new Protos.V1.Trainer.TrainerClient(host.Channel);
        await client.StartJobAsync(Request("long", epochs: 200));
        using (var watch = client.WatchJob(new WatchJobRequest { JobId = "long" }))
            await foreach (var p in watch.ResponseStream.ReadAllAsync())
                if (p.Step > 2) break;
        await client.CancelJobAsync(new CancelJobRequest { JobId = "long" });
        var final = new List<TrainingProgress>();
        using (var watch = client.WatchJob(new WatchJobRequest { JobId = "long" }, deadline: DateTime.UtcNow.AddMinutes(2)))
            await foreach (var p in watch.ResponseStream.ReadAllAsync()) final.Add(p);
        Assert.Equal(JobState.Cancelled, final[^1].State);
    }

    [Fact]
    public async Task A_cancelled_job_is_taken_up_again_by_a_reopening_command_and_completes()
    {
        await using var host = await StartWithData(questions: 60, sliceSeconds: 0);
        var client = new Protos.V1.Trainer.TrainerClient(host.Channel);
        await client.StartJobAsync(Request("reopened", epochs: 4));
        using (var watch = client.WatchJob(new WatchJobRequest { JobId = "reopened" }, deadline: DateTime.UtcNow.AddMinutes(3)))
            await foreach (var p in watch.ResponseStream.ReadAllAsync())
                if (p.Epoch >= 2) break;
        await client.CancelJobAsync(new CancelJobRequest { JobId = "reopened" });
        using (var watch = client.WatchJob(new WatchJobRequest { JobId = "reopened" }, deadline: DateTime.UtcNow.AddMinutes(2)))
            await foreach (var _ in watch.ResponseStream.ReadAllAsync()) { }
        Assert.Equal(JobState.Cancelled, (await client.GetJobAsync(new GetJobRequest { JobId = "reopened" })).State);

        // A run started again after it was cancelled sends its jobs reopening: this one carries on and completes.
        var queue = await host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri($"queue:{TrainModel.Queue}"));
        await queue.Send(TrainModel.For(Request("reopened", epochs: 4), reopen: true));
        var deadline = DateTime.UtcNow.AddMinutes(3);
        TrainingJob job;
        do
        {
            await Task.Delay(250);
            job = await client.GetJobAsync(new GetJobRequest { JobId = "reopened" });
        } while (job.State != JobState.Completed && DateTime.UtcNow < deadline);
        Assert.Equal(JobState.Completed, job.State);
        Assert.NotEmpty(job.BestCheckpoint.Key);
    }

    [Fact]
    public async Task A_replica_training_two_jobs_at_once_takes_one_copy_of_a_command_delivered_twice()
    {
        await using var host = await StartWithData(questions: 60, concurrentJobs: 2);
        var bus = host.Services.GetRequiredService<IBus>();
        var ends = new System.Collections.Concurrent.ConcurrentQueue<TrainingJob>();
        var observer = bus.ConnectReceiveEndpoint("test-training-job-ends", e => e.Handler<TrainingJobEnded>(c =>
        {
            ends.Enqueue(c.Message.ReadJob());
            return Task.CompletedTask;
        }));
        await observer.Ready;
        var queue = await bus.GetSendEndpoint(new Uri($"queue:{TrainModel.Queue}"));
        await queue.Send(TrainModel.For(Request("twice", epochs: 2)));
        await queue.Send(TrainModel.For(Request("twice", epochs: 2)));

        for (int i = 0; i < 1200 && ends.IsEmpty; i++) await Task.Delay(100);
        await Task.Delay(2000); // a second copy trained beside the first would end about now
        Assert.Equal(JobState.Completed, Assert.Single(ends).State);
        await observer.StopAsync();
    }

    [Fact]
    public async Task With_a_fixed_thread_share_a_job_trained_beside_a_shorter_one_ends_with_the_weights_it_has_trained_alone()
    {
        // Re-shared threads would give the long job one thread while its neighbour trains and both once it has ended,
        // so its sums would run in another order than alone; a fixed share keeps it on one thread throughout.
        await using var host = await StartWithData(questions: 96, concurrentJobs: 2, fixedThreadShare: true);
        var client = new Protos.V1.Trainer.TrainerClient(host.Channel);
        var (beside, neighbour, alone) = (WideJob("beside", epochs: 3), WideJob("neighbour", epochs: 1), WideJob("alone", epochs: 3));
        var together = await Task.WhenAll(TrainToTheEndAsync(client, beside), TrainToTheEndAsync(client, neighbour));
        Assert.All(together, job => Assert.True(job.State == JobState.Completed, $"{job.JobId} ended {job.State}: {job.Error}"));
        var byItself = await TrainToTheEndAsync(client, alone);
        Assert.True(byItself.State == JobState.Completed, $"job ended {byItself.State}: {byItself.Error}");

        // The last epoch's loss (trained after the neighbour ended) and the dev-selected weights, to the last bit.
        Assert.Equal((byItself.Progress.Epoch, byItself.Progress.Loss, byItself.SelectedEpoch), (together[0].Progress.Epoch, together[0].Progress.Loss, together[0].SelectedEpoch));
        var store = host.Services.GetRequiredService<IObjectStore>();
        var folder = Path.Combine(Path.GetTempPath(), "mentorkd-service-tests", Guid.NewGuid().ToString("N"));
        await store.DownloadAsync(together[0].BestCheckpoint.Key, Path.Combine(folder, "beside"));
        await store.DownloadAsync(byItself.BestCheckpoint.Key, Path.Combine(folder, "alone"));
        using var besideModel = Modeling.Checkpoints.GptCheckpoint.LoadModel(Path.Combine(folder, "beside"));
        using var aloneModel = Modeling.Checkpoints.GptCheckpoint.LoadModel(Path.Combine(folder, "alone"));
        var aloneWeights = aloneModel.state_dict();
        foreach (var (name, value) in besideModel.state_dict())
            Assert.True(value.equal(aloneWeights[name]).all().item<bool>(), $"{name} differs between the job trained beside another and alone");

        // Wide enough that libtorch splits its products and reductions across threads.
        static StartTrainingJobRequest WideJob(string jobId, int epochs)
        {
            var request = Request(jobId, epochs);
            request.Model.Embedding = 128;
            request.Training.EvalMaxNewTokens = 8;
            return request;
        }
    }

    [Fact]
    public void Reverse_kl_and_jsd_with_their_beta_cross_the_trainer_api_unchanged()
    {
        foreach (var mode in new[] { KnowledgeDistillationMode.ReverseKl, KnowledgeDistillationMode.Jsd })
        {
            var options = new ReasoningTrainingOptions { KdMode = mode, JsdBeta = 0.3 }.ToProto().ToOptions();
            Assert.Equal((mode, 0.3), (options.KdMode, options.JsdBeta));
        }
        Assert.Equal(0.5, new TrainingParameters { KdMode = KdMode.Jsd }.ToOptions().JsdBeta); // unset: the symmetric JSD
    }

    [Theory]
    [InlineData("role")]
    [InlineData("training.lambda")]
    [InlineData("train_questions_key")]
    [InlineData("model.embedding")]
    [InlineData("soft_labels.mentor_checkpoint_key")]
    [InlineData("init_checkpoint_key")]
    [InlineData("training.epochs")]
    [InlineData("soft_labels.mentor_dtype")]
    [InlineData("training.matmul_dtype")]
    [InlineData("training.jsd_beta")]
    [InlineData("soft_labels.stored_key")]
    [InlineData("training.kd_mask")]
    public async Task Bad_requests_are_invalid_argument_naming_the_field(string field)
    {
        await using var host = await StartTrainer(Path.Combine(Path.GetTempPath(), "mentorkd-service-tests", Guid.NewGuid().ToString("N"), "objects"));
        var client = new Protos.V1.Trainer.TrainerClient(host.Channel);
        var request = Request("bad");
        switch (field)
        {
            case "role": request.Role = TrainingRole.Unspecified; break;
            case "training.lambda": request.Training.Lambda = 1.5; break;
            case "train_questions_key": request.TrainQuestionsKey = "../x"; break;
            case "model.embedding": request.Model.Embedding = 63; break;
            case "init_checkpoint_key": request.InitCheckpointKey = "runs/../etc/"; break;
            case "training.epochs": request.Training.Epochs = 1_000_000_000; break; // beyond Trainer:MaxEpochs
            case "soft_labels.mentor_dtype": request.SoftLabels.MentorDtype = "float16"; break;
            case "training.matmul_dtype": request.Training.MatmulDtype = "float16"; break;
            case "training.jsd_beta": request.Training.KdMode = KdMode.Jsd; request.Training.JsdBeta = 1.5; break;
            case "soft_labels.stored_key":
            case "training.kd_mask":
                // A store: its key must be a safe object key, and it serves the clean mask only.
                request.SoftLabels = new SoftLabelSource { Kind = SoftLabelSourceKind.Stored, StoredKey = field == "training.kd_mask" ? "runs/t/soft-labels/s.safetensors" : "../store" };
                request.Training.KdMode = KdMode.Kl;
                request.Training.Temperature = 2;
                if (field == "training.kd_mask") request.Training.KdMask = KdMask.Faithful;
                break;
            default:
                request.SoftLabels = new SoftLabelSource { Kind = SoftLabelSourceKind.InProcess };
                request.Training.KdMode = KdMode.Kl;
                request.Training.Temperature = 2;
                break;
        }
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.StartJobAsync(request));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(field, error.Status.Detail);
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await client.GetJobAsync(new GetJobRequest { JobId = "nope" }));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }
}
