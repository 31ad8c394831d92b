using Grpc.Core;
using MentorKd.MentorServer.Extensions;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using MentorKd.TeacherGateway.Extensions;
using MentorKd.TeacherGateway.OpenAi;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

/// <summary>
/// The teacher-gateway's LLM teachers over the real HTTP path: a mentor-server on Kestrel serves a model through its
/// OpenAI-compatible API, and the gateway's named teachers call it with the OpenAI client (chat and legacy
/// completions), recording every call in the ledger so a repeated annotation pays nothing.
/// </summary>
public class TeacherGatewayOpenAiTests
{
    [Fact]
    public async Task A_named_llm_teacher_annotates_through_an_openai_endpoint_and_a_repeat_is_answered_from_the_ledger()
    {
        await using var mentor = await KestrelTestHost.StartAsync(b => b.AddMentorServer(), a => a.MapMentorServer(),
            new Dictionary<string, string?> { ["MentorServer:Threads"] = "2" });
        await ServiceTestData.PutCheckpointAsync(mentor.Services.GetRequiredService<IObjectStore>(), mentor.Folder);
        await new Protos.V1.MentorServer.MentorServerClient(mentor.Channel).LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = ServiceTestData.CheckpointKey });
        var baseUrl = new Uri(mentor.HttpAddress, "v1").ToString();

        await using var gateway = await TestServiceHost.StartAsync(b => b.AddTeacherGateway(), a => a.MapTeacherGateway(), new Dictionary<string, string?>
        {
            ["TeacherGateway:Teachers:local:BaseUrl"] = baseUrl,
            ["TeacherGateway:Teachers:local:Model"] = ServiceTestData.CheckpointKey,
            ["TeacherGateway:Teachers:local:Prompt"] = "mentorkd-cot",
            ["TeacherGateway:Teachers:local:Temperature"] = "0.8",
            ["TeacherGateway:Teachers:local:MaxTokens"] = "24",
            ["TeacherGateway:Teachers:local:Seed"] = "3",
            ["TeacherGateway:Teachers:local:TopLogprobs"] = "2",
            ["TeacherGateway:Teachers:legacy:BaseUrl"] = baseUrl,
            ["TeacherGateway:Teachers:legacy:Model"] = ServiceTestData.CheckpointKey,
            ["TeacherGateway:Teachers:legacy:Api"] = "completions",
            ["TeacherGateway:Teachers:legacy:Prompt"] = "zero-shot-cot",
            ["TeacherGateway:Teachers:legacy:MaxTokens"] = "16",
        });
        var client = new Protos.V1.TeacherGateway.TeacherGatewayClient(gateway.Channel);
        var questions = ServiceTestData.Questions(3);

        var first = await Annotate(client, questions, 2, "local");
        Assert.Equal(6, first.Count);
        Assert.All(first, r => Assert.Equal($"openai:local({ServiceTestData.CheckpointKey})", r.Producer));
        Assert.Equal([3L, 4L], first.Where(r => r.QuestionId == questions[0].Id).Select(r => r.Sampling!.Seed)); // sample i asks with seed + i
        Assert.Equal(6, mentor.Requests("/v1/chat/completions"));
        var usage = await client.GetUsageAsync(new GetUsageRequest());
        Assert.Equal(6, usage.Requests);
        Assert.Equal(0, usage.CacheHits);
        Assert.True(usage.PromptTokens > 0 && usage.CompletionTokens > 0, $"tokens {usage.PromptTokens}/{usage.CompletionTokens}: the endpoint's own counts");
        var ledger = await gateway.Services.GetRequiredService<IObjectStore>().ListAsync(TeacherCallLedger.Prefix).ToListAsync();
        Assert.Equal(6, ledger.Count);

        // The same annotation again (a retried stage, a restarted run): answered from the ledger, the endpoint not called.
        var again = await Annotate(client, questions, 2, "local");
        Assert.Equal(first.Select(r => (r.QuestionId, r.Text, r.ExtractedAnswer)), again.Select(r => (r.QuestionId, r.Text, r.ExtractedAnswer)));
        Assert.Equal(6, mentor.Requests("/v1/chat/completions"));
        usage = await client.GetUsageAsync(new GetUsageRequest());
        Assert.Equal(6, usage.Requests);
        Assert.Equal(6, usage.CacheHits);

        // The legacy completions endpoint, through the client's pipeline.
        var legacy = await Annotate(client, questions.Take(1).ToList(), 1, "legacy");
        Assert.Single(legacy);
        Assert.Equal(1, mentor.Requests("/v1/completions"));
        Assert.Equal(7, (await client.GetUsageAsync(new GetUsageRequest())).Requests);

        var unknown = await Assert.ThrowsAsync<RpcException>(() => Annotate(client, questions, 1, "gpt-5"));
        Assert.Equal(StatusCode.InvalidArgument, unknown.StatusCode);
        Assert.Contains("teacher", unknown.Status.Detail);
    }

    [Fact]
    public async Task A_teacher_whose_key_variable_is_not_set_stops_the_gateway_at_start_naming_it()
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => TestServiceHost.StartAsync(b => b.AddTeacherGateway(), a => a.MapTeacherGateway(),
            new Dictionary<string, string?>
            {
                ["TeacherGateway:Kind"] = "openai",
                ["TeacherGateway:DefaultTeacher"] = "hosted",
                ["TeacherGateway:Teachers:hosted:BaseUrl"] = "https://api.example.com/v1",
                ["TeacherGateway:Teachers:hosted:Model"] = "some-model",
                ["TeacherGateway:Teachers:hosted:ApiKeyEnv"] = "MENTORKD_TEST_KEY_THAT_IS_NOT_SET",
            }));
        Assert.Contains("MENTORKD_TEST_KEY_THAT_IS_NOT_SET", failure.ToString());
    }

    private static async Task<List<Distillation.Data.Rationale>> Annotate(Protos.V1.TeacherGateway.TeacherGatewayClient client,
        IReadOnlyList<Distillation.Data.Question> questions, int k, string teacher)
    {
        var request = new AnnotateRequest { RationalesPerQuestion = k, Teacher = teacher };
        request.Questions.AddRange(questions.Select(q => q.ToProto()));
        var rationales = new List<Distillation.Data.Rationale>();
        using var call = client.Annotate(request);
        await foreach (var response in call.ResponseStream.ReadAllAsync()) rationales.Add(response.Rationale.ToRecord());
        return rationales;
    }
}
