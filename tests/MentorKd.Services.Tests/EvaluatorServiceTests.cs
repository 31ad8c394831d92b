using Grpc.Core;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Evaluator.Extensions;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

public class EvaluatorServiceTests
{
    [Fact]
    public async Task Evaluates_a_stored_checkpoint_on_a_stored_dataset_and_writes_the_report()
    {
        await using var host = await TestServiceHost.StartAsync(b => b.AddEvaluator().AddMessaging(bus => bus.AddEvaluatorMessaging()), a => a.MapEvaluator());
        var store = host.Services.GetRequiredService<IObjectStore>();
        await ServiceTestData.PutCheckpointAsync(store, host.Folder);
        var questions = ServiceTestData.Questions(6);
        await ServiceTestData.PutDatasetAsync(store, questions);
        var client = new Protos.V1.Evaluator.EvaluatorClient(host.Channel);

        var report = await client.EvaluateAsync(new EvaluateRequest
        {
            CheckpointKey = ServiceTestData.CheckpointKey, DatasetKey = ServiceTestData.DatasetKey, MaxNewTokens = 16, ReportKey = "reports/tiny.jsonl",
        });

        Assert.Equal(6, report.Total);
        Assert.Equal(report.Examples.Count(e => e.Correct), report.Correct);
        Assert.Equal((double)report.Correct / 6, report.Accuracy, 6);
        Assert.Equal(questions.Select(q => q.Id), report.Examples.Select(e => e.QuestionId));
        var stored = await store.StatAsync("reports/tiny.jsonl");
        Assert.NotNull(stored);
        Assert.Equal(stored!.Sha256, report.Report.Sha256);
    }

    [Fact]
    public async Task An_evaluation_from_the_queue_publishes_the_same_report_as_the_api_and_a_bad_one_publishes_its_error()
    {
        await using var host = await TestServiceHost.StartAsync(b => b.AddEvaluator().AddMessaging(bus => bus.AddEvaluatorMessaging()), a => a.MapEvaluator());
        var store = host.Services.GetRequiredService<IObjectStore>();
        await ServiceTestData.PutCheckpointAsync(store, host.Folder);
        await ServiceTestData.PutDatasetAsync(store, ServiceTestData.Questions(6));
        var request = new EvaluateRequest { CheckpointKey = ServiceTestData.CheckpointKey, DatasetKey = ServiceTestData.DatasetKey, MaxNewTokens = 16, ReportKey = "reports/queued.jsonl" };
        var direct = await new Protos.V1.Evaluator.EvaluatorClient(host.Channel).EvaluateAsync(request);

        var bus = host.Services.GetRequiredService<IBus>();
        var outcomes = System.Threading.Channels.Channel.CreateUnbounded<CheckpointEvaluated>();
        var observer = bus.ConnectReceiveEndpoint("test-checkpoint-evaluated", e => e.Handler<CheckpointEvaluated>(c => outcomes.Writer.WriteAsync(c.Message).AsTask()));
        await observer.Ready;
        await bus.SendToQueueAsync(EvaluateCheckpoint.Queue, EvaluateCheckpoint.For("good", request), CancellationToken.None);
        await bus.SendToQueueAsync(EvaluateCheckpoint.Queue, EvaluateCheckpoint.For("bad", new EvaluateRequest { CheckpointKey = "models/nothing/", DatasetKey = ServiceTestData.DatasetKey }), CancellationToken.None);

        var received = new Dictionary<string, CheckpointEvaluated>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (received.Count < 2) { var o = await outcomes.Reader.ReadAsync(timeout.Token); received[o.EvaluationId] = o; }
        var queued = received["good"].ReadReport();
        Assert.Equal(direct.Accuracy, queued.Accuracy);
        Assert.Equal(direct.Report, queued.Report); // same per-example JSONL, stored once more under the same key
        Assert.Empty(queued.Examples); // the rows stay in the store, not on the broker
        Assert.Contains("checkpoint_key", received["bad"].Error);
        await observer.StopAsync();
    }

    [Theory]
    [InlineData("models/tiny-mentor/", "datasets/missing.jsonl", StatusCode.NotFound, "dataset_key")]
    [InlineData("models/nothing/", "datasets/coin-flip-test.jsonl", StatusCode.NotFound, "checkpoint_key")]
    [InlineData("models/tiny-mentor/", "../outside.jsonl", StatusCode.InvalidArgument, "dataset_key")]
    [InlineData("", "datasets/coin-flip-test.jsonl", StatusCode.InvalidArgument, "checkpoint_key")]
    public async Task Bad_requests_get_their_status_naming_the_field(string checkpoint, string dataset, StatusCode code, string field)
    {
        await using var host = await TestServiceHost.StartAsync(b => b.AddEvaluator().AddMessaging(bus => bus.AddEvaluatorMessaging()), a => a.MapEvaluator());
        var store = host.Services.GetRequiredService<IObjectStore>();
        await ServiceTestData.PutCheckpointAsync(store, host.Folder);
        await ServiceTestData.PutDatasetAsync(store, ServiceTestData.Questions(2));
        var client = new Protos.V1.Evaluator.EvaluatorClient(host.Channel);
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.EvaluateAsync(new EvaluateRequest { CheckpointKey = checkpoint, DatasetKey = dataset }));
        Assert.Equal(code, error.StatusCode);
        Assert.Contains(field, error.Status.Detail);
    }
}
