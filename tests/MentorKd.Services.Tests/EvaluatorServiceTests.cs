using Grpc.Core;
using MentorKd.Distillation.Data;
using MentorKd.Evaluator.Extensions;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

public class EvaluatorServiceTests
{
    [Fact]
    public async Task Evaluates_a_stored_checkpoint_on_a_stored_dataset_and_writes_the_report()
    {
        await using var host = await TestServiceHost.StartAsync(b => b.AddEvaluator(), a => a.MapEvaluator());
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

    [Theory]
    [InlineData("models/tiny-mentor/", "datasets/missing.jsonl", StatusCode.NotFound, "dataset_key")]
    [InlineData("models/nothing/", "datasets/coin-flip-test.jsonl", StatusCode.NotFound, "checkpoint_key")]
    [InlineData("models/tiny-mentor/", "../outside.jsonl", StatusCode.InvalidArgument, "dataset_key")]
    [InlineData("", "datasets/coin-flip-test.jsonl", StatusCode.InvalidArgument, "checkpoint_key")]
    public async Task Bad_requests_get_their_status_naming_the_field(string checkpoint, string dataset, StatusCode code, string field)
    {
        await using var host = await TestServiceHost.StartAsync(b => b.AddEvaluator(), a => a.MapEvaluator());
        var store = host.Services.GetRequiredService<IObjectStore>();
        await ServiceTestData.PutCheckpointAsync(store, host.Folder);
        await ServiceTestData.PutDatasetAsync(store, ServiceTestData.Questions(2));
        var client = new Protos.V1.Evaluator.EvaluatorClient(host.Channel);
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.EvaluateAsync(new EvaluateRequest { CheckpointKey = checkpoint, DatasetKey = dataset }));
        Assert.Equal(code, error.StatusCode);
        Assert.Contains(field, error.Status.Detail);
    }
}
