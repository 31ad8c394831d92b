using Grpc.Core;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Storage;
using MentorKd.TeacherGateway.Extensions;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

public class TeacherGatewayServiceTests
{
    private static Task<TestServiceHost> Start() => TestServiceHost.StartAsync(b => b.AddTeacherGateway().AddMessaging(bus => bus.AddTeacherGatewayMessaging()), a => a.MapTeacherGateway(),
        new Dictionary<string, string?> { ["TeacherGateway:Kind"] = "simulated", ["TeacherGateway:ErrorRate"] = "0.2" });

    private static Question CoinFlip(string id, string text, string answer) => new() { Id = id, Task = "coin_flip", Text = text, Answer = answer };

    [Fact]
    public async Task Annotate_streams_k_judged_rationales_per_question_and_counts_usage()
    {
        await using var host = await Start();
        var client = new Protos.V1.TeacherGateway.TeacherGatewayClient(host.Channel);
        var request = new AnnotateRequest { RationalesPerQuestion = 3 };
        request.Questions.Add(CoinFlip("a", "A coin is heads up. Ada flips the coin. Bob flips the coin. Is the coin still heads up? Note that \"flip\" here means \"reverse\".", "yes"));
        request.Questions.Add(CoinFlip("b", "A coin is heads up. Ada flips the coin. Bob does not flip the coin. Is the coin still heads up? Note that \"flip\" here means \"reverse\".", "no"));

        var rationales = new List<Rationale>();
        using var call = client.Annotate(request);
        await foreach (var response in call.ResponseStream.ReadAllAsync()) rationales.Add(response.Rationale);

        Assert.Equal(6, rationales.Count);
        Assert.Equal(3, rationales.Count(r => r.QuestionId == "a"));
        Assert.All(rationales, r => Assert.Equal(r.ExtractedAnswer == (r.QuestionId == "a" ? "yes" : "no"), r.Correct));
        Assert.All(rationales, r => Assert.Contains("simulated", r.Producer));

        var usage = await client.GetUsageAsync(new GetUsageRequest());
        Assert.Equal(2, usage.Requests); // one teacher request per question
        Assert.Equal(2, usage.Questions);
        Assert.Equal(6, usage.Rationales);
        Assert.True(usage.CompletionTokens > 0 && usage.PromptTokens > 0);
    }

    [Fact]
    public async Task An_annotation_from_the_queue_stores_every_judged_rationale_and_a_repeated_command_asks_the_teacher_nothing_more()
    {
        await using var host = await Start();
        var store = host.Services.GetRequiredService<IObjectStore>();
        var task = new Distillation.Tasks.Synthetic.CoinFlipTask();
        var random = new Random(3);
        var questions = Enumerable.Range(0, 12).Select(i => task.Generate(random, $"q{i}", 2)).ToList();
        using (var content = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(string.Concat(questions.Select(q => System.Text.Json.JsonSerializer.Serialize(q, Distillation.Data.JsonLines.Options) + "\n")))))
            await store.PutAsync("runs/t/questions.jsonl", content);

        var bus = host.Services.GetRequiredService<IBus>();
        var outcomes = System.Threading.Channels.Channel.CreateUnbounded<QuestionsAnnotated>();
        var observer = bus.ConnectReceiveEndpoint("test-questions-annotated", e => e.Handler<QuestionsAnnotated>(c => outcomes.Writer.WriteAsync(c.Message).AsTask()));
        await observer.Ready;
        var command = new AnnotateQuestions("a1", "runs/t/questions.jsonl", 2, "runs/t/rationales.jsonl");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await bus.SendToQueueAsync(AnnotateQuestions.Queue, command, CancellationToken.None);
        var first = await outcomes.Reader.ReadAsync(timeout.Token);
        await bus.SendToQueueAsync(AnnotateQuestions.Queue, command, CancellationToken.None);
        var again = await outcomes.Reader.ReadAsync(timeout.Token);

        Assert.Equal("", first.Error);
        Assert.Equal((12, 24), (first.Questions, first.Rationales));
        Assert.Equal(first, again);
        using var stored = new MemoryStream();
        await store.GetAsync("runs/t/rationales.jsonl", stored);
        var rationales = Distillation.Data.JsonLines.Parse<Distillation.Data.Rationale>(System.Text.Encoding.UTF8.GetString(stored.ToArray()).Split('\n'), "stored");
        Assert.Equal(first.Kept, rationales.Count(r => r.Correct));
        var usage = await new Protos.V1.TeacherGateway.TeacherGatewayClient(host.Channel).GetUsageAsync(new GetUsageRequest());
        Assert.Equal(12, usage.Requests); // the repeated command was answered from the store
        await observer.StopAsync();
    }

    [Theory]
    [InlineData(0, "coin_flip", "text", "rationales_per_question")]
    [InlineData(1, "chess", "text", "questions[0].task")]
    [InlineData(1, "coin_flip", "", "questions[0].text")]
    [InlineData(1, "gsm8k", "text", "questions[0].task")]
    public async Task Bad_input_is_invalid_argument_naming_the_field(int k, string task, string text, string field)
    {
        await using var host = await Start();
        var client = new Protos.V1.TeacherGateway.TeacherGatewayClient(host.Channel);
        var request = new AnnotateRequest { RationalesPerQuestion = k };
        request.Questions.Add(new Question { Id = "q", Task = task, Text = text, Answer = "yes" });
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = client.Annotate(request);
            await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
        });
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(field, error.Status.Detail);
    }

    [Fact]
    public async Task No_questions_is_invalid_argument()
    {
        await using var host = await Start();
        var client = new Protos.V1.TeacherGateway.TeacherGatewayClient(host.Channel);
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = client.Annotate(new AnnotateRequest { RationalesPerQuestion = 1 });
            await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
        });
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("questions", error.Status.Detail);
    }
}
