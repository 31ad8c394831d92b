using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using MentorKd.Distillation.Pipeline;
using MentorKd.Embedded;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace MentorKd.Services.Tests;

/// <summary>
/// Malformed and hostile requests, as a careless or malicious client sends them, across the five services and the Runs
/// API through real channels to the embedded platform (`make battery` prints the table): each must be answered with
/// the expected status and a message naming the field, the process must keep serving, nothing may be written to the
/// store by a refused call, and a run must still complete afterwards.
/// </summary>
public sealed class BadInputBatteryTests(ITestOutputHelper output)
{
    private sealed record BadInput(string Service, string What, StatusCode Expected, string Names, Func<GrpcChannel, Task> Call);

    private static string Config(Action<JsonObject> change)
    {
        var config = JsonNode.Parse(JsonSerializer.Serialize(EmbeddedTestRuns.Tiny(), RunConfig.Json))!.AsObject();
        change(config);
        return config.ToJsonString();
    }

    /// <summary>The config with <paramref name="field"/>'s number replaced by 1e309, which JSON readers take as infinity or refuse.</summary>
    private static string Infinite(string json, string field)
    {
        var at = json.IndexOf($"\"{field}\":", StringComparison.Ordinal) + field.Length + 3;
        int end = at;
        while (end < json.Length && (char.IsDigit(json[end]) || json[end] is '.' or '-' or 'e' or 'E' or '+')) end++;
        return json[..at] + "1e309" + json[end..];
    }

    private static Protos.V1.Question Question(string id, string text = "Take the last letters of the words in \"Ada Bo\" and concatenate them.") =>
        new() { Id = id, Task = "last_letter_concatenation", Text = text, Answer = "ao" };

    private static async Task Drain<T>(AsyncServerStreamingCall<T> call)
    {
        using (call) await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
    }

    private static IReadOnlyList<BadInput> Battery()
    {
        static Protos.V1.Runs.RunsClient Runs(GrpcChannel c) => new(c);
        static Protos.V1.Datasets.DatasetsClient Datasets(GrpcChannel c) => new(c);
        static Protos.V1.TeacherGateway.TeacherGatewayClient Teacher(GrpcChannel c) => new(c);
        static Protos.V1.MentorServer.MentorServerClient Mentor(GrpcChannel c) => new(c);
        static Protos.V1.Trainer.TrainerClient Trainer(GrpcChannel c) => new(c);
        static Protos.V1.Evaluator.EvaluatorClient Evaluator(GrpcChannel c) => new(c);
        string unknownRun = Guid.NewGuid().ToString();
        var deep = new StringBuilder();
        for (int i = 0; i < 200; i++) deep.Append("{\"a\":");
        deep.Append('1').Append('}', 200);

        StartTrainingJobRequest Job(Action<StartTrainingJobRequest> change)
        {
            var job = new StartTrainingJobRequest
            {
                Role = TrainingRole.Student, TrainQuestionsKey = "battery/questions.jsonl", RationaleKeys = { "battery/questions.jsonl" }, TokenizerKey = "battery/tokenizer/",
                OutputKey = "battery/out/", Model = new ModelShape { Layers = 1, Heads = 1, Embedding = 8, ContextLength = 64 },
                Training = new TrainingParameters { Epochs = 1, BatchSize = 1, LearningRate = 1e-3, Lambda = 0.5, Temperature = 1 },
            };
            change(job);
            return job;
        }

        return
        [
            // Runs API: configs
            new("runs", "StartRun with an empty config", StatusCode.InvalidArgument, "config_json", c => Runs(c).StartRunAsync(new StartRunRequest()).ResponseAsync),
            new("runs", "StartRun with a config that is not JSON", StatusCode.InvalidArgument, "config_json", c => Runs(c).StartRunAsync(new StartRunRequest { ConfigJson = "{ name: tiny" }).ResponseAsync),
            new("runs", "StartRun with a truncated config", StatusCode.InvalidArgument, "config_json", c => Runs(c).StartRunAsync(new StartRunRequest { ConfigJson = Config(_ => { })[..40] }).ResponseAsync),
            new("runs", "StartRun with JSON nested 200 deep", StatusCode.InvalidArgument, "config_json", c => Runs(c).StartRunAsync(new StartRunRequest { ConfigJson = deep.ToString() }).ResponseAsync),
            new("runs", "StartRun with a run id that is not a UUID", StatusCode.InvalidArgument, "run_id", c => Runs(c).StartRunAsync(new StartRunRequest { RunId = "../../etc", ConfigJson = Config(_ => { }) }).ResponseAsync),
            new("runs", "StartRun with a billion epochs", StatusCode.InvalidArgument, "epochs", c => Runs(c).StartRunAsync(new StartRunRequest { ConfigJson = Config(j => j["student"]!["training"]!["epochs"] = 1_000_000_000) }).ResponseAsync),
            new("runs", "StartRun with λ as a string \"NaN\"", StatusCode.InvalidArgument, "lambda", c => Runs(c).StartRunAsync(new StartRunRequest { ConfigJson = Config(j => j["student"]!["training"]!["lambda"] = "NaN") }).ResponseAsync),
            new("runs", "StartRun with λ = 1e309 (infinite)", StatusCode.InvalidArgument, "lambda", c => Runs(c).StartRunAsync(new StartRunRequest { ConfigJson = Infinite(Config(_ => { }), "lambda") }).ResponseAsync),
            new("runs", "StartRun with an unknown kd_mode", StatusCode.InvalidArgument, "kd_mode", c => Runs(c).StartRunAsync(new StartRunRequest { ConfigJson = Config(j => j["student"]!["training"]!["kd_mode"] = "telepathy") }).ResponseAsync),
            new("runs", "StartRun with an unknown key", StatusCode.InvalidArgument, "flux_capacitor", c => Runs(c).StartRunAsync(new StartRunRequest { ConfigJson = Config(j => j["flux_capacitor"] = 1) }).ResponseAsync),
            new("runs", "StartRun with a 12 MB name", StatusCode.InvalidArgument, "name", c => Runs(c).StartRunAsync(new StartRunRequest { ConfigJson = Config(j => j["name"] = new string('n', 12 << 20)) }).ResponseAsync),
            new("runs", "StartRun with a negative question count", StatusCode.InvalidArgument, "train_questions", c => Runs(c).StartRunAsync(new StartRunRequest { ConfigJson = Config(j => j["task"]!["train_questions"] = -5) }).ResponseAsync),
            new("runs", "StartRun reading /etc/passwd as its task file", StatusCode.InvalidArgument, "task.files.train_questions", c => Runs(c).StartRunAsync(new StartRunRequest { ConfigJson = Config(j => j["task"] = JsonNode.Parse("""{ "name": "gsm8k", "source": "files", "files": { "train_questions": "/etc/passwd", "test": "/etc/passwd" } }""")) }).ResponseAsync),
            // Runs API: ids and order
            new("runs", "GetRun of an unknown run", StatusCode.NotFound, "run_id", c => Runs(c).GetRunAsync(new GetRunRequest { RunId = unknownRun }).ResponseAsync),
            new("runs", "GetRun with an empty id", StatusCode.InvalidArgument, "run_id", c => Runs(c).GetRunAsync(new GetRunRequest()).ResponseAsync),
            new("runs", "WatchRun with an id that is not a UUID", StatusCode.InvalidArgument, "run_id", c => Drain(Runs(c).WatchRun(new WatchRunRequest { RunId = "%00" }))),
            new("runs", "GetReport of a run that does not exist", StatusCode.NotFound, "run_id", c => Runs(c).GetReportAsync(new GetReportRequest { RunId = unknownRun }).ResponseAsync),
            new("runs", "CancelRun of a run that does not exist", StatusCode.NotFound, "run_id", c => Runs(c).CancelRunAsync(new CancelRunRequest { RunId = unknownRun }).ResponseAsync),
            new("runs", "AddQuestions to a run that does not exist", StatusCode.NotFound, "run_id", c => Runs(c).AddQuestionsAsync(new AddQuestionsRequest { RunId = unknownRun, Questions = { Question("q1") } }).ResponseAsync),
            // Datasets
            new("augmentation", "RegisterDataset with an empty id", StatusCode.InvalidArgument, "dataset_id", c => Datasets(c).RegisterDatasetAsync(new RegisterDatasetRequest { Kind = DatasetKind.Questions, Key = "battery/questions.jsonl" }).ResponseAsync),
            new("augmentation", "RegisterDataset with a traversal id", StatusCode.InvalidArgument, "dataset_id", c => Datasets(c).RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "../x", Kind = DatasetKind.Questions, Key = "battery/questions.jsonl" }).ResponseAsync),
            new("augmentation", "RegisterDataset with an unknown kind (99)", StatusCode.InvalidArgument, "kind", c => Datasets(c).RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "d1", Kind = (DatasetKind)99, Key = "battery/questions.jsonl" }).ResponseAsync),
            new("augmentation", "RegisterDataset with a traversal key", StatusCode.InvalidArgument, "key", c => Datasets(c).RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "d2", Kind = DatasetKind.Questions, Key = "../../etc/passwd" }).ResponseAsync),
            new("augmentation", "RegisterDataset of a key that does not exist", StatusCode.NotFound, "key", c => Datasets(c).RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "d3", Kind = DatasetKind.Questions, Key = "battery/none.jsonl" }).ResponseAsync),
            new("augmentation", "RegisterDataset of a truncated JSONL", StatusCode.InvalidArgument, "battery/truncated.jsonl", c => Datasets(c).RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "d4", Kind = DatasetKind.Questions, Key = "battery/truncated.jsonl" }).ResponseAsync),
            new("augmentation", "RegisterDataset of questions with duplicate ids", StatusCode.InvalidArgument, "question id 'q1'", c => Datasets(c).RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "d5", Kind = DatasetKind.Questions, Key = "battery/duplicates.jsonl" }).ResponseAsync),
            new("augmentation", "GetDataset that does not exist", StatusCode.NotFound, "dataset_id", c => Datasets(c).GetDatasetAsync(new GetDatasetRequest { DatasetId = "nothing-here" }).ResponseAsync),
            new("augmentation", "AugmentDataset of a dataset that does not exist", StatusCode.NotFound, "questions_dataset_id", c => Datasets(c).AugmentDatasetAsync(new AugmentDatasetRequest { QuestionsDatasetId = "nothing-here", OutputDatasetId = "o", SamplesPerQuestion = 1 }).ResponseAsync),
            // Teacher-gateway
            new("teacher-gateway", "Annotate no questions", StatusCode.InvalidArgument, "questions", c => Drain(Teacher(c).Annotate(new AnnotateRequest { RationalesPerQuestion = 1 }))),
            new("teacher-gateway", "Annotate with 0 rationales per question", StatusCode.InvalidArgument, "rationales_per_question", c => Drain(Teacher(c).Annotate(new AnnotateRequest { Questions = { Question("q1") } }))),
            new("teacher-gateway", "Annotate with duplicate question ids", StatusCode.InvalidArgument, "questions[1].id", c => Drain(Teacher(c).Annotate(new AnnotateRequest { Questions = { Question("q1"), Question("q1") }, RationalesPerQuestion = 1 }))),
            new("teacher-gateway", "Annotate with an unknown teacher", StatusCode.InvalidArgument, "teacher", c => Drain(Teacher(c).Annotate(new AnnotateRequest { Questions = { Question("q1") }, RationalesPerQuestion = 1, Teacher = "gpt-17" }))),
            new("teacher-gateway", "Annotate a question with an empty text", StatusCode.InvalidArgument, "text", c => Drain(Teacher(c).Annotate(new AnnotateRequest { Questions = { Question("q1", text: "") }, RationalesPerQuestion = 1 }))),
            new("teacher-gateway", "Synthesize with no mode", StatusCode.InvalidArgument, "mode", c => Drain(Teacher(c).Synthesize(new SynthesizeRequest { Questions = { Question("q1") }, PerQuestion = 1 }))),
            new("teacher-gateway", "Synthesize 1000 problems per question", StatusCode.InvalidArgument, "per_question", c => Drain(Teacher(c).Synthesize(new SynthesizeRequest { Questions = { Question("q1") }, Mode = SynthesisMode.Harder, PerQuestion = 1000 }))),
            // Mentor-server
            new("mentor-server", "LoadCheckpoint with a traversal key", StatusCode.InvalidArgument, "checkpoint_key", c => Mentor(c).LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = "../../../etc/" }).ResponseAsync),
            new("mentor-server", "LoadCheckpoint of a key that does not exist", StatusCode.NotFound, "checkpoint_key", c => Mentor(c).LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = "battery/no-model/" }).ResponseAsync),
            new("mentor-server", "LoadCheckpoint with dtype float8", StatusCode.InvalidArgument, "dtype", c => Mentor(c).LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = "battery/garbage-model/", Dtype = "float8" }).ResponseAsync),
            new("mentor-server", "LoadCheckpoint of a garbage safetensors file", StatusCode.InvalidArgument, "safetensors", c => Mentor(c).LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = "battery/garbage-model/" }).ResponseAsync),
            new("mentor-server", "LoadCheckpoint of a safetensors header claiming 1 TB", StatusCode.InvalidArgument, "safetensors", c => Mentor(c).LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = "battery/huge-header-model/" }).ResponseAsync),
            new("mentor-server", "LoadCheckpoint of a folder without a tokenizer", StatusCode.InvalidArgument, "tokenizer", c => Mentor(c).LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = "battery/no-tokenizer-model/" }).ResponseAsync),
            new("mentor-server", "Generate before any checkpoint is loaded", StatusCode.FailedPrecondition, "LoadCheckpoint", c => Drain(Mentor(c).Generate(new GenerateRequest { Questions = { Question("q1") }, SamplesPerQuestion = 1 }))),
            new("mentor-server", "GetSoftLabels before any checkpoint is loaded", StatusCode.FailedPrecondition, "LoadCheckpoint", c => Mentor(c).GetSoftLabelsAsync(new SoftLabelsRequest { Sequences = { new TokenSequence { TokenIds = { 1, 2 } } }, TopK = 1, Temperature = double.NaN }).ResponseAsync),
            // Trainer
            new("trainer", "StartJob with nothing in it", StatusCode.InvalidArgument, "role", c => Trainer(c).StartJobAsync(new StartTrainingJobRequest()).ResponseAsync),
            new("trainer", "StartJob with a traversal job id", StatusCode.InvalidArgument, "job_id", c => Trainer(c).StartJobAsync(Job(j => j.JobId = "../../jobs")).ResponseAsync),
            new("trainer", "StartJob with a NaN λ", StatusCode.InvalidArgument, "training.lambda", c => Trainer(c).StartJobAsync(Job(j => j.Training.Lambda = double.NaN)).ResponseAsync),
            new("trainer", "StartJob with an infinite learning rate", StatusCode.InvalidArgument, "training.learning_rate", c => Trainer(c).StartJobAsync(Job(j => j.Training.LearningRate = double.PositiveInfinity)).ResponseAsync),
            new("trainer", "StartJob with an unknown kd_mode (42)", StatusCode.InvalidArgument, "training.kd_mode", c => Trainer(c).StartJobAsync(Job(j => j.Training.KdMode = (KdMode)42)).ResponseAsync),
            new("trainer", "StartJob with a billion epochs", StatusCode.InvalidArgument, "training.epochs", c => Trainer(c).StartJobAsync(Job(j => j.Training.Epochs = 1_000_000_000)).ResponseAsync),
            new("trainer", "StartJob with a traversal output key", StatusCode.InvalidArgument, "output_key", c => Trainer(c).StartJobAsync(Job(j => j.OutputKey = "/etc/")).ResponseAsync),
            new("trainer", "GetJob of a job that does not exist", StatusCode.NotFound, "job_id", c => Trainer(c).GetJobAsync(new GetJobRequest { JobId = "no-such-job" }).ResponseAsync),
            new("trainer", "CancelJob with an empty id", StatusCode.InvalidArgument, "job_id", c => Trainer(c).CancelJobAsync(new CancelJobRequest()).ResponseAsync),
            // Evaluator
            new("evaluator", "Evaluate with a traversal checkpoint key", StatusCode.InvalidArgument, "checkpoint_key", c => Evaluator(c).EvaluateAsync(new EvaluateRequest { CheckpointKey = "../x/", DatasetKey = "battery/questions.jsonl" }).ResponseAsync),
            new("evaluator", "Evaluate with a negative max_new_tokens", StatusCode.InvalidArgument, "max_new_tokens", c => Evaluator(c).EvaluateAsync(new EvaluateRequest { CheckpointKey = "battery/garbage-model/", DatasetKey = "battery/questions.jsonl", MaxNewTokens = -1 }).ResponseAsync),
            new("evaluator", "Evaluate with an infinite temperature", StatusCode.InvalidArgument, "temperature", c => Evaluator(c).EvaluateAsync(new EvaluateRequest { CheckpointKey = "battery/garbage-model/", DatasetKey = "battery/questions.jsonl", Samples = 4, Temperature = double.PositiveInfinity }).ResponseAsync),
            new("evaluator", "Evaluate a checkpoint that does not exist", StatusCode.NotFound, "checkpoint_key", c => Evaluator(c).EvaluateAsync(new EvaluateRequest { CheckpointKey = "battery/no-model/", DatasetKey = "battery/questions.jsonl" }).ResponseAsync),
        ];
    }

    /// <summary>What the battery's objects are: what a client could have uploaded to the bucket before calling.</summary>
    private static async Task PutFixturesAsync(IObjectStore store)
    {
        async Task Put(string key, byte[] bytes)
        {
            using var content = new MemoryStream(bytes);
            await store.PutAsync(key, content);
        }
        string Row(string id) => JsonSerializer.Serialize(new { id, task = "last_letter_concatenation", text = "Take the last letters of \"Ada Bo\".", answer = "ao" });
        await Put("battery/questions.jsonl", Encoding.UTF8.GetBytes(Row("q1") + "\n"));
        await Put("battery/truncated.jsonl", Encoding.UTF8.GetBytes(Row("q1") + "\n" + Row("q2")[..30]));
        await Put("battery/duplicates.jsonl", Encoding.UTF8.GetBytes(Row("q1") + "\n" + Row("q1") + "\n"));
        // Model folders that are whole but for one file: a real tiny checkpoint, with its weights replaced or its tokenizer left out.
        var valid = await ServiceTestData.PutCheckpointAsync(store, Path.Combine(Path.GetTempPath(), "mentorkd-battery", Guid.NewGuid().ToString("N")));
        async Task Variant(string key, Func<string, bool> keep, byte[]? weights)
        {
            var folder = Path.Combine(Path.GetTempPath(), "mentorkd-battery", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            foreach (var file in Directory.GetFiles(valid).Where(f => keep(Path.GetFileName(f)))) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            if (weights is not null) await File.WriteAllBytesAsync(Path.Combine(folder, "model.safetensors"), weights);
            await store.UploadAsync(folder, key);
        }
        await Variant("battery/garbage-model/", _ => true, Encoding.UTF8.GetBytes("this is not a safetensors file at all"));
        // A header length of 2^40 bytes: a loader that believes it allocates a terabyte.
        await Variant("battery/huge-header-model/", _ => true, [.. BitConverter.GetBytes(1L << 40), .. "{}"u8.ToArray()]);
        await Variant("battery/no-tokenizer-model/", name => name is "config.json" or "model.safetensors", weights: null);
    }

    [Fact]
    public async Task Every_bad_input_gets_its_status_naming_the_field_nothing_is_written_and_a_run_completes_afterwards()
    {
        var dataRoot = EmbeddedTestRuns.NewDataRoot();
        await using var platform = await EmbeddedPlatform.StartAsync(EmbeddedRunSetup.For(EmbeddedTestRuns.Tiny(), dataRoot) with { DataRoots = [dataRoot] });
        var store = platform.Services.GetRequiredService<IObjectStore>();
        await PutFixturesAsync(store);
        var before = await KeysAsync(store);

        var battery = Battery();
        var failures = new List<string>();
        var table = new StringBuilder("| service | request | status | message |\n|---|---|---|---|\n");
        foreach (var input in battery)
        {
            var (status, message) = await CallAsync(input, platform.Channel);
            table.Append($"| {input.Service} | {input.What} | {status} | {message.Replace("|", "\\|")[..Math.Min(message.Length, 140)]} |\n");
            if (status != input.Expected) failures.Add($"{input.What}: {status} instead of {input.Expected} ({message})");
            else if (!message.Contains(input.Names, StringComparison.OrdinalIgnoreCase)) failures.Add($"{input.What}: '{message}' does not name {input.Names}");
        }
        output.WriteLine(table.ToString());
        output.WriteLine($"{battery.Count} bad inputs, {battery.Count - failures.Count} answered as expected, across {battery.Select(b => b.Service).Distinct().Count()} services.");
        Assert.True(battery.Count >= 40, $"the battery holds {battery.Count} cases");
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        // Nothing a refused call did is left in the store.
        var after = await KeysAsync(store);
        Assert.True(before.SetEquals(after), $"refused calls wrote: {string.Join(", ", after.Except(before))}; removed: {string.Join(", ", before.Except(after))}");

        // And the platform still serves a whole run.
        var run = await RunSession.RunAsync(new Protos.V1.Runs.RunsClient(platform.Channel), Guid.NewGuid(), EmbeddedTestRuns.Tiny(), _ => { });
        Assert.True(run.Status == RunStatus.Completed, $"the run after the battery ended {run.Status} in {run.FailedStage}: {run.Error}");
    }

    private static async Task<(StatusCode Status, string Message)> CallAsync(BadInput input, GrpcChannel channel)
    {
        try
        {
            await input.Call(channel).WaitAsync(TimeSpan.FromSeconds(60));
            return (StatusCode.OK, "");
        }
        catch (RpcException e) { return (e.StatusCode, e.Status.Detail); }
        catch (TimeoutException) { return (StatusCode.DeadlineExceeded, "no answer within 60 s"); }
    }

    private static async Task<HashSet<string>> KeysAsync(IObjectStore store)
    {
        var keys = new HashSet<string>();
        await foreach (var info in store.ListAsync("")) keys.Add(info.Key);
        return keys;
    }
}
