using Grpc.Core;
using MentorKd.Augmentation.Extensions;
using MentorKd.Distillation.Data;
using MentorKd.MentorServer.Extensions;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;
using Rationale = MentorKd.Distillation.Data.Rationale;

namespace MentorKd.Services.Tests;

public class DatasetsServiceTests
{
    /// <summary>A mentor-server with the tiny checkpoint (optionally loaded) and an augmentation host whose client reaches it.</summary>
    private static async Task<(TestServiceHost Mentor, TestServiceHost Augmentation)> StartPair(bool loadMentor, long maxDatasetBytes = 256L << 20)
    {
        var mentor = await TestServiceHost.StartAsync(b => b.AddMentorServer(), a => a.MapMentorServer());
        await ServiceTestData.PutCheckpointAsync(mentor.Services.GetRequiredService<IObjectStore>(), mentor.Folder);
        if (loadMentor)
            await new Protos.V1.MentorServer.MentorServerClient(mentor.Channel).LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = ServiceTestData.CheckpointKey });
        var augmentation = await TestServiceHost.StartAsync(b =>
        {
            b.AddAugmentation().AddMessaging(bus => bus.AddAugmentationMessaging());
            b.Services.AddGrpcClient<Protos.V1.MentorServer.MentorServerClient>().ConfigurePrimaryHttpMessageHandler(mentor.CreateHandler);
        }, a => a.MapAugmentation(), new Dictionary<string, string?> { ["Augmentation:Limits:MaxDatasetBytes"] = maxDatasetBytes.ToString() });
        await ServiceTestData.PutDatasetAsync(augmentation.Services.GetRequiredService<IObjectStore>(), ServiceTestData.Questions(5));
        return (mentor, augmentation);
    }

    [Fact]
    public async Task Registers_a_stored_question_set_and_augments_it_through_the_mentor_server()
    {
        var (mentor, augmentation) = await StartPair(loadMentor: true);
        await using var _ = mentor;
        await using var __ = augmentation;
        var client = new Protos.V1.Datasets.DatasetsClient(augmentation.Channel);

        var questions = await client.RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "coin-train", Kind = DatasetKind.Questions, Key = ServiceTestData.DatasetKey });
        Assert.Equal(5, questions.Rows);
        Assert.Equal(["coin_flip"], questions.Tasks);
        Assert.Equal(questions, await client.GetDatasetAsync(new GetDatasetRequest { DatasetId = "coin-train" }));

        var augmented = await client.AugmentDatasetAsync(new AugmentDatasetRequest
        {
            QuestionsDatasetId = "coin-train", OutputDatasetId = "coin-train-mentor", SamplesPerQuestion = 3, KeepIncorrect = true,
            Sampling = new SamplingParameters { Temperature = 0.7, TopK = 50, MaxNewTokens = 12, Seed = 3 },
        });
        Assert.Equal(15, augmented.Samples);
        Assert.Equal(15, augmented.Dataset.Rows);
        Assert.Equal("coin-train", augmented.Dataset.DerivedFrom);
        Assert.Contains(ServiceTestData.CheckpointKey, augmented.Dataset.Producer);

        var stored = new MemoryStream();
        await augmentation.Services.GetRequiredService<IObjectStore>().GetAsync(augmented.Dataset.Object.Key, stored);
        var rows = JsonLines.Parse<Rationale>(System.Text.Encoding.UTF8.GetString(stored.ToArray()).Split('\n'), "stored");
        Assert.Equal(15, rows.Count);
        Assert.All(rows, r => Assert.Equal("mentor", r.Source));
    }

    [Fact]
    public async Task Bad_requests_get_their_status_naming_the_field()
    {
        var (mentor, augmentation) = await StartPair(loadMentor: false, maxDatasetBytes: 4_000);
        await using var _ = mentor;
        await using var __ = augmentation;
        var client = new Protos.V1.Datasets.DatasetsClient(augmentation.Channel);
        var store = augmentation.Services.GetRequiredService<IObjectStore>();
        await using (var notJson = new MemoryStream("not json\n"u8.ToArray()))
            await store.PutAsync("datasets/bad.jsonl", notJson);
        // Nested deeper than a record ever is, and larger than this platform reads (its limit set to 4,000 bytes here).
        var deep = "{\"id\": \"q\", \"task\": \"coin_flip\", \"text\": \"t\", \"answer\": \"yes\", \"x\": " + new string('[', 40) + new string(']', 40) + "}\n";
        await using (var content = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(deep)))
            await store.PutAsync("datasets/deep.jsonl", content);
        await using (var content = new MemoryStream(new byte[5_000]))
            await store.PutAsync("datasets/large.jsonl", content);

        async Task Expect(StatusCode code, string field, Func<Task> call)
        {
            var error = await Assert.ThrowsAsync<RpcException>(call);
            Assert.Equal(code, error.StatusCode);
            Assert.Contains(field, error.Status.Detail);
        }

        await Expect(StatusCode.InvalidArgument, "dataset_id", async () => await client.RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "Bad Id", Kind = DatasetKind.Questions, Key = ServiceTestData.DatasetKey }));
        await Expect(StatusCode.InvalidArgument, "kind", async () => await client.RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "x", Key = ServiceTestData.DatasetKey }));
        await Expect(StatusCode.InvalidArgument, "key", async () => await client.RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "x", Kind = DatasetKind.Questions, Key = "datasets/bad.jsonl" }));
        await Expect(StatusCode.NotFound, "key", async () => await client.RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "x", Kind = DatasetKind.Questions, Key = "datasets/none.jsonl" }));
        await Expect(StatusCode.InvalidArgument, "depth", async () => await client.RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "x", Kind = DatasetKind.Questions, Key = "datasets/deep.jsonl" }));
        await Expect(StatusCode.InvalidArgument, "Limits:MaxDatasetBytes", async () => await client.RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "x", Kind = DatasetKind.Questions, Key = "datasets/large.jsonl" }));
        Assert.Null(await store.StatAsync(MentorKd.Augmentation.Datasets.DatasetRegistry.RegistryPrefix + "x.json")); // nothing registered by the refused calls
        await Expect(StatusCode.NotFound, "dataset_id", async () => await client.GetDatasetAsync(new GetDatasetRequest { DatasetId = "missing" }));

        await client.RegisterDatasetAsync(new RegisterDatasetRequest { DatasetId = "q", Kind = DatasetKind.Questions, Key = ServiceTestData.DatasetKey });
        await Expect(StatusCode.InvalidArgument, "samples_per_question", async () => await client.AugmentDatasetAsync(new AugmentDatasetRequest { QuestionsDatasetId = "q", OutputDatasetId = "o" }));
        await Expect(StatusCode.FailedPrecondition, "no mentor", async () => await client.AugmentDatasetAsync(new AugmentDatasetRequest { QuestionsDatasetId = "q", OutputDatasetId = "o", SamplesPerQuestion = 1 }));
    }
}
