using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Grpc.Reflection.V1Alpha;
using MentorKd.Distillation.Pipeline;
using MentorKd.Embedded;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults.Security;
using MentorKd.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

/// <summary>
/// Who may call what, through real channels to the embedded platform (Kestrel on loopback, the services' own wiring):
/// every RPC of the five services refuses a caller without a key or with an unknown one (Unauthenticated), refuses a role
/// below its own (PermissionDenied, naming the role it needs), and lets its role through; runs belong to the client that
/// started them, and one client's runs under way are limited.
/// </summary>
public sealed class AuthorizationTests : IAsyncLifetime
{
    private static readonly Dictionary<string, (string Key, string Role)> Clients = new()
    {
        ["reader"] = (TestKeys.Fresh(), PlatformRoles.Reader),
        ["team-a"] = (TestKeys.Fresh(), PlatformRoles.Runner),
        ["team-b"] = (TestKeys.Fresh(), PlatformRoles.Runner),
        ["operator"] = (TestKeys.Fresh(), PlatformRoles.Admin),
    };

    private EmbeddedPlatform _platform = null!;
    private readonly List<GrpcChannel> _channels = [];

    public async Task InitializeAsync() => _platform = await EmbeddedPlatform.StartAsync(EmbeddedRunSetup.For(EmbeddedTestRuns.Tiny(), EmbeddedTestRuns.NewDataRoot()) with
    {
        Clients = Clients.ToDictionary(c => c.Key, c => new ClientCredential { Key = c.Value.Key, Role = c.Value.Role }),
        Settings = new Dictionary<string, string?> { ["Augmentation:Limits:MaxConcurrentRunsPerClient"] = "1" },
    });

    public async Task DisposeAsync()
    {
        foreach (var channel in _channels) channel.Dispose();
        await _platform.DisposeAsync();
    }

    private GrpcChannel As(string? client)
    {
        var channel = _platform.ChannelFor(client is null ? null : Clients.TryGetValue(client, out var c) ? c.Key : client);
        _channels.Add(channel);
        return channel;
    }

    /// <summary>Every RPC with the least role it needs and a call that is harmless whoever makes it (empty or unknown ids:
    /// what passes authorization ends in a validation error or a read).</summary>
    private static readonly Dictionary<string, (string Role, Func<GrpcChannel, Task> Call)> Rpcs = new()
    {
        ["mentorkd.v1.Runs/StartRun"] = (PlatformRoles.Runner, c => new Protos.V1.Runs.RunsClient(c).StartRunAsync(new StartRunRequest()).ResponseAsync),
        ["mentorkd.v1.Runs/WatchRun"] = (PlatformRoles.Reader, c => Drain(new Protos.V1.Runs.RunsClient(c).WatchRun(new WatchRunRequest { RunId = "x" }))),
        ["mentorkd.v1.Runs/GetRun"] = (PlatformRoles.Reader, c => new Protos.V1.Runs.RunsClient(c).GetRunAsync(new GetRunRequest { RunId = "x" }).ResponseAsync),
        ["mentorkd.v1.Runs/ListRuns"] = (PlatformRoles.Reader, c => new Protos.V1.Runs.RunsClient(c).ListRunsAsync(new ListRunsRequest()).ResponseAsync),
        ["mentorkd.v1.Runs/CancelRun"] = (PlatformRoles.Runner, c => new Protos.V1.Runs.RunsClient(c).CancelRunAsync(new CancelRunRequest { RunId = "x" }).ResponseAsync),
        ["mentorkd.v1.Runs/GetReport"] = (PlatformRoles.Reader, c => new Protos.V1.Runs.RunsClient(c).GetReportAsync(new GetReportRequest { RunId = "x" }).ResponseAsync),
        ["mentorkd.v1.Runs/AddQuestions"] = (PlatformRoles.Runner, c => new Protos.V1.Runs.RunsClient(c).AddQuestionsAsync(new AddQuestionsRequest { RunId = "x" }).ResponseAsync),
        ["mentorkd.v1.Datasets/RegisterDataset"] = (PlatformRoles.Admin, c => new Protos.V1.Datasets.DatasetsClient(c).RegisterDatasetAsync(new RegisterDatasetRequest()).ResponseAsync),
        ["mentorkd.v1.Datasets/GetDataset"] = (PlatformRoles.Reader, c => new Protos.V1.Datasets.DatasetsClient(c).GetDatasetAsync(new GetDatasetRequest { DatasetId = "none" }).ResponseAsync),
        ["mentorkd.v1.Datasets/AugmentDataset"] = (PlatformRoles.Runner, c => new Protos.V1.Datasets.DatasetsClient(c).AugmentDatasetAsync(new AugmentDatasetRequest()).ResponseAsync),
        ["mentorkd.v1.TeacherGateway/Annotate"] = (PlatformRoles.Runner, c => Drain(new Protos.V1.TeacherGateway.TeacherGatewayClient(c).Annotate(new AnnotateRequest()))),
        ["mentorkd.v1.TeacherGateway/GetUsage"] = (PlatformRoles.Reader, c => new Protos.V1.TeacherGateway.TeacherGatewayClient(c).GetUsageAsync(new GetUsageRequest()).ResponseAsync),
        ["mentorkd.v1.TeacherGateway/Synthesize"] = (PlatformRoles.Runner, c => Drain(new Protos.V1.TeacherGateway.TeacherGatewayClient(c).Synthesize(new SynthesizeRequest()))),
        ["mentorkd.v1.MentorServer/LoadCheckpoint"] = (PlatformRoles.Admin, c => new Protos.V1.MentorServer.MentorServerClient(c).LoadCheckpointAsync(new LoadCheckpointRequest()).ResponseAsync),
        ["mentorkd.v1.MentorServer/Unload"] = (PlatformRoles.Admin, c => new Protos.V1.MentorServer.MentorServerClient(c).UnloadAsync(new UnloadRequest()).ResponseAsync),
        ["mentorkd.v1.MentorServer/GetModelInfo"] = (PlatformRoles.Reader, c => new Protos.V1.MentorServer.MentorServerClient(c).GetModelInfoAsync(new GetModelInfoRequest()).ResponseAsync),
        ["mentorkd.v1.MentorServer/Generate"] = (PlatformRoles.Runner, c => Drain(new Protos.V1.MentorServer.MentorServerClient(c).Generate(new GenerateRequest()))),
        ["mentorkd.v1.MentorServer/GetSoftLabels"] = (PlatformRoles.Runner, c => new Protos.V1.MentorServer.MentorServerClient(c).GetSoftLabelsAsync(new SoftLabelsRequest()).ResponseAsync),
        ["mentorkd.v1.Trainer/StartJob"] = (PlatformRoles.Runner, c => new Protos.V1.Trainer.TrainerClient(c).StartJobAsync(new StartTrainingJobRequest()).ResponseAsync),
        ["mentorkd.v1.Trainer/WatchJob"] = (PlatformRoles.Reader, c => Drain(new Protos.V1.Trainer.TrainerClient(c).WatchJob(new WatchJobRequest()))),
        ["mentorkd.v1.Trainer/CancelJob"] = (PlatformRoles.Runner, c => new Protos.V1.Trainer.TrainerClient(c).CancelJobAsync(new CancelJobRequest()).ResponseAsync),
        ["mentorkd.v1.Trainer/GetJob"] = (PlatformRoles.Reader, c => new Protos.V1.Trainer.TrainerClient(c).GetJobAsync(new GetJobRequest()).ResponseAsync),
        ["mentorkd.v1.Evaluator/Evaluate"] = (PlatformRoles.Runner, c => new Protos.V1.Evaluator.EvaluatorClient(c).EvaluateAsync(new EvaluateRequest()).ResponseAsync),
    };

    private static async Task Drain<T>(AsyncServerStreamingCall<T> call)
    {
        using (call) await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
    }

    private static async Task<StatusCode> StatusOf(Func<GrpcChannel, Task> call, GrpcChannel channel)
    {
        try
        {
            await call(channel);
            return StatusCode.OK;
        }
        catch (RpcException e) { return e.StatusCode; }
    }

    [Fact]
    public void The_table_names_every_rpc_of_the_contract()
    {
        var contract = new[] { RunsReflection.Descriptor, DatasetsReflection.Descriptor, TeacherGatewayReflection.Descriptor, MentorServerReflection.Descriptor,
            TrainerReflection.Descriptor, EvaluatorReflection.Descriptor }
            .SelectMany(file => file.Services).SelectMany(service => service.Methods.Select(method => $"{service.FullName}/{method.Name}"));
        Assert.Equal(contract.Order(), Rpcs.Keys.Order());
    }

    [Fact]
    public async Task Every_rpc_refuses_callers_without_a_known_key_and_roles_below_its_own_and_serves_its_role()
    {
        var anonymous = As(null);
        var stranger = As(TestKeys.Fresh()); // a well-formed key that is not one of the platform's
        var failures = new List<string>();
        foreach (var (rpc, (role, call)) in Rpcs)
        {
            foreach (var (caller, channel) in new[] { ("no key", anonymous), ("an unknown key", stranger) })
            {
                try { await call(channel); failures.Add($"{rpc}: served {caller}"); }
                catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
                {
                    if (!e.Status.Detail.Contains("authorization")) failures.Add($"{rpc}: {caller}: '{e.Status.Detail}' does not say what is wrong");
                }
                catch (RpcException e) { failures.Add($"{rpc}: {caller}: {e.StatusCode} instead of Unauthenticated"); }
            }
            foreach (var client in new[] { "reader", "team-a", "operator" })
            {
                bool allowed = PlatformRoles.Rank(Clients[client].Role) >= PlatformRoles.Rank(role);
                try
                {
                    await call(As(client));
                    if (!allowed) failures.Add($"{rpc}: served {client} ({Clients[client].Role})");
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.PermissionDenied && !allowed)
                {
                    if (!e.Status.Detail.Contains($"needs the {role} role") || !e.Status.Detail.Contains(client))
                        failures.Add($"{rpc}: {client}: '{e.Status.Detail}' does not name the caller and the role it needs");
                }
                catch (RpcException e) when (allowed && e.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied)
                {
                    failures.Add($"{rpc}: {client} ({Clients[client].Role}) was refused: {e.Status.Detail}");
                }
                catch (RpcException e) when (allowed) { _ = e; } // past authorization: the empty request's own validation error
                catch (RpcException e) { failures.Add($"{rpc}: {client}: {e.StatusCode} instead of PermissionDenied"); }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        // Health checks answer probes without a key; reflection needs one (the deployment's choice, Auth:AnonymousReflection).
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await new Health.HealthClient(anonymous).CheckAsync(new HealthCheckRequest())).Status);
        Assert.Equal(StatusCode.Unauthenticated, await StatusOf(ListServices, anonymous));
        Assert.Equal(StatusCode.OK, await StatusOf(ListServices, As("reader")));
    }

    private static async Task ListServices(GrpcChannel channel)
    {
        using var call = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
    }

    [Fact]
    public async Task A_run_belongs_to_the_client_that_started_it_and_a_client_has_a_limited_number_under_way()
    {
        var config = System.Text.Json.JsonSerializer.Serialize(EmbeddedTestRuns.Tiny(), RunConfig.Json);
        var teamA = new Protos.V1.Runs.RunsClient(As("team-a"));
        var teamB = new Protos.V1.Runs.RunsClient(As("team-b"));
        var admin = new Protos.V1.Runs.RunsClient(As("operator"));
        var first = await teamA.StartRunAsync(new StartRunRequest { RunId = Guid.NewGuid().ToString(), ConfigJson = config });
        Assert.Equal("team-a", first.SubmittedBy);
        Assert.Equal("team-a", (await new Protos.V1.Runs.RunsClient(As("reader")).GetRunAsync(new GetRunRequest { RunId = first.RunId })).SubmittedBy);

        // Another runner may read it but not cancel it, add to it or start it again.
        var cancel = await Assert.ThrowsAsync<RpcException>(async () => await teamB.CancelRunAsync(new CancelRunRequest { RunId = first.RunId }));
        Assert.Equal(StatusCode.PermissionDenied, cancel.StatusCode);
        Assert.Contains("client 'team-a'", cancel.Status.Detail);
        var add = await Assert.ThrowsAsync<RpcException>(async () => await teamB.AddQuestionsAsync(new AddQuestionsRequest { RunId = first.RunId, Questions = { EmbeddedTestRuns.NewQuestions(2, 5) } }));
        Assert.Equal(StatusCode.PermissionDenied, add.StatusCode);
        var restart = await Assert.ThrowsAsync<RpcException>(async () => await teamB.StartRunAsync(new StartRunRequest { RunId = first.RunId, ConfigJson = config }));
        Assert.Equal(StatusCode.PermissionDenied, restart.StatusCode);

        // One run under way is team-a's limit here; team-b's own run is not counted against it.
        var second = Guid.NewGuid().ToString();
        var limited = await Assert.ThrowsAsync<RpcException>(async () => await teamA.StartRunAsync(new StartRunRequest { RunId = second, ConfigJson = config }));
        Assert.Equal(StatusCode.ResourceExhausted, limited.StatusCode);
        Assert.Contains("MaxConcurrentRunsPerClient = 1", limited.Status.Detail);
        var other = await teamB.StartRunAsync(new StartRunRequest { RunId = Guid.NewGuid().ToString(), ConfigJson = config });
        Assert.Equal("team-b", other.SubmittedBy);

        // An admin cancels anyone's run; once it has ended, team-a may start another.
        await admin.CancelRunAsync(new CancelRunRequest { RunId = first.RunId, Reason = "operator" });
        await teamB.CancelRunAsync(new CancelRunRequest { RunId = other.RunId });
        foreach (var run in new[] { first.RunId, other.RunId })
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while ((await admin.GetRunAsync(new GetRunRequest { RunId = run })).Status != RunStatus.Cancelled && DateTime.UtcNow < deadline) await Task.Delay(100);
            Assert.Equal(RunStatus.Cancelled, (await admin.GetRunAsync(new GetRunRequest { RunId = run })).Status);
        }
        var deadlineForMarker = DateTime.UtcNow.AddSeconds(30);
        Run? started = null;
        while (started is null)
        {
            try { started = await teamA.StartRunAsync(new StartRunRequest { RunId = second, ConfigJson = config }); }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted && DateTime.UtcNow < deadlineForMarker) { await Task.Delay(100); }
        }
        Assert.Equal("team-a", started.SubmittedBy);
        await teamA.CancelRunAsync(new CancelRunRequest { RunId = second });
    }

    [Fact]
    public async Task A_runner_may_not_take_a_runs_job_id_write_under_the_platforms_prefixes_or_load_the_shared_mentor()
    {
        var trainer = new Protos.V1.Trainer.TrainerClient(As("team-b"));
        StartTrainingJobRequest Job(Action<StartTrainingJobRequest> change)
        {
            var job = new StartTrainingJobRequest
            {
                Role = TrainingRole.Student, TrainQuestionsKey = "clients/team-b/questions.jsonl", RationaleKeys = { "clients/team-b/rationales.jsonl" },
                TokenizerKey = "clients/team-b/tokenizer/", OutputKey = "clients/team-b/out/", Model = new ModelShape { Layers = 1, Heads = 1, Embedding = 8, ContextLength = 64 },
                Training = new TrainingParameters { Epochs = 1, BatchSize = 1, LearningRate = 1e-3, Lambda = 0.5, Temperature = 1, KdMode = KdMode.Kl },
            };
            change(job);
            return job;
        }
        async Task Denied(string field, Func<Task> call)
        {
            var e = await Assert.ThrowsAsync<RpcException>(call);
            Assert.True(e.StatusCode == StatusCode.PermissionDenied && e.Status.Detail.StartsWith(field), $"{field}: {e.StatusCode} {e.Status.Detail}");
        }
        // A run's jobs are "<run id>-<job>" and the run takes the checkpoint of the job under that id.
        await Denied("job_id", () => trainer.StartJobAsync(Job(j => j.JobId = $"{Guid.NewGuid():D}-mentor")).ResponseAsync);
        await Denied("output_key", () => trainer.StartJobAsync(Job(j => j.OutputKey = $"runs/{Guid.NewGuid():D}/checkpoints/mentor/")).ResponseAsync);
        await Denied("soft_labels.stored_key", () => trainer.StartJobAsync(Job(j => j.SoftLabels = new SoftLabelSource
        {
            Kind = SoftLabelSourceKind.Stored, StoredKey = "trainer/jobs/x/store.safetensors", MentorServerAddress = _platform.Address.ToString(),
        })).ResponseAsync);
        await Denied("soft_labels.mentor_checkpoint_key", () => trainer.StartJobAsync(Job(j => j.SoftLabels = new SoftLabelSource
        {
            Kind = SoftLabelSourceKind.MentorServer, MentorServerAddress = _platform.Address.ToString(), MentorCheckpointKey = "clients/team-b/mentor/",
        })).ResponseAsync);
        await Denied("report_key", () => new Protos.V1.Evaluator.EvaluatorClient(As("team-b")).EvaluateAsync(new EvaluateRequest
        {
            CheckpointKey = "clients/team-b/out/", DatasetKey = "clients/team-b/questions.jsonl", ReportKey = "teacher-ledger/overwritten.jsonl",
        }).ResponseAsync);

        // A registered dataset feeds other teams' runs: a runner's augmentation may not replace it by naming it as its output.
        var store = _platform.Services.GetRequiredService<MentorKd.Storage.IObjectStore>();
        await store.PutAsync("clients/operator/questions.jsonl", new MemoryStream("""{"id":"q1","task":"coin_flip","text":"A coin is heads up. Is it still heads up?","answer":"yes"}"""u8.ToArray()));
        var datasets = new Protos.V1.Datasets.DatasetsClient(As("operator"));
        var shared = await datasets.RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "shared-questions", Kind = DatasetKind.Questions, Key = "clients/operator/questions.jsonl" });
        var refused = await Assert.ThrowsAsync<RpcException>(() => new Protos.V1.Datasets.DatasetsClient(As("team-b")).AugmentDatasetAsync(new AugmentDatasetRequest
        {
            QuestionsDatasetId = "shared-questions", OutputDatasetId = "shared-questions", SamplesPerQuestion = 1,
        }).ResponseAsync);
        Assert.True(refused.StatusCode == StatusCode.AlreadyExists && refused.Status.Detail.StartsWith("output_dataset_id"), $"{refused.StatusCode} {refused.Status.Detail}");
        Assert.Equal(shared.Object.Sha256, (await datasets.GetDatasetAsync(new GetDatasetRequest { DatasetId = "shared-questions" })).Object.Sha256);
    }
}
