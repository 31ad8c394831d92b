using Grpc.Core;
using MentorKd.MentorServer.Extensions;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using MentorKd.TeacherGateway.Extensions;
using MentorKd.TeacherGateway.OpenAi;
using Microsoft.Extensions.DependencyInjection;
using MentorKd.Tests.Shared;

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
        // The mentor-server asks for a key like any OpenAI API; the gateway reads it from a file (a mounted secret).
        var keyFile = Path.Combine(mentor.Folder, "mentor-server.key");
        await File.WriteAllTextAsync(keyFile, TestKeys.Admin);

        await using var gateway = await TestServiceHost.StartAsync(b => b.AddTeacherGateway(), a => a.MapTeacherGateway(), new Dictionary<string, string?>
        {
            ["TeacherGateway:Teachers:local:BaseUrl"] = baseUrl,
            ["TeacherGateway:Teachers:local:ApiKeyFile"] = keyFile,
            ["TeacherGateway:Teachers:local:Model"] = ServiceTestData.CheckpointKey,
            ["TeacherGateway:Teachers:local:Prompt"] = "mentorkd-cot",
            ["TeacherGateway:Teachers:local:Temperature"] = "0.8",
            ["TeacherGateway:Teachers:local:MaxTokens"] = "24",
            ["TeacherGateway:Teachers:local:Seed"] = "3",
            ["TeacherGateway:Teachers:local:TopLogprobs"] = "2",
            ["TeacherGateway:Teachers:legacy:BaseUrl"] = baseUrl,
            ["TeacherGateway:Teachers:legacy:ApiKeyFile"] = keyFile,
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

    [Fact]
    public async Task Faults_from_the_endpoint_are_retried_paced_and_every_call_is_accounted_for()
    {
        Fault[] opening = [Fault.RateLimited, Fault.RateLimited, Fault.RateLimited, Fault.ServerError, Fault.Hang, Fault.TruncatedJson, Fault.EmptyChoices,
            Fault.RateLimitHeadersExhausted];
        await using var endpoint = await FaultyOpenAiEndpoint.StartAsync(i => i <= opening.Length ? opening[i - 1] : Fault.None);
        await using var gateway = await TestServiceHost.StartAsync(b => b.AddTeacherGateway(), a => a.MapTeacherGateway(), new Dictionary<string, string?>
        {
            ["TeacherGateway:Teachers:flaky:BaseUrl"] = endpoint.BaseUrl.ToString(),
            ["TeacherGateway:Teachers:flaky:Model"] = "scripted",
            // Long enough that a good reply on a machine busy with the rest of the suite is not cut off and retried (the
            // likely cause of a CI failure at 1 s: 14 requests where the script makes 13); the hanging reply waits 30 s.
            ["TeacherGateway:Teachers:flaky:TimeoutSeconds"] = "4",
            ["TeacherGateway:Teachers:flaky:MaxConcurrentCalls"] = "1", // the script's faults fall on the first question, in order
            ["TeacherGateway:Teachers:flaky:PromptPricePerMillionTokens"] = "2.5",
            ["TeacherGateway:Teachers:flaky:CompletionPricePerMillionTokens"] = "10",
        });
        var client = new Protos.V1.TeacherGateway.TeacherGatewayClient(gateway.Channel);

        var (rationales, failures) = await AnnotateWithFailures(client, ServiceTestData.Questions(6), 1, "flaky");

        // Seven faults, each retried (429 ×3 after Retry-After, 500, a timeout, truncated JSON, no choices), then six good replies.
        Assert.Empty(failures);
        Assert.Equal(6, rationales.Count);
        Assert.All(rationales, r => Assert.Equal("yes", r.ExtractedAnswer));
        Assert.Equal(13, endpoint.Requests);
        var usage = (await client.GetUsageAsync(new GetUsageRequest())).Teachers.Single();
        Assert.Equal("openai:flaky(scripted)", usage.Teacher);
        Assert.Equal(endpoint.Requests, usage.Attempts); // every HTTP attempt is counted
        Assert.Equal(6, usage.Requests);
        Assert.Equal((6 * 20 * 2.5 + 6 * 10 * 10.0) / 1e6, usage.Cost, 12);
        Assert.Equal(6, await gateway.Services.GetRequiredService<IObjectStore>().ListAsync(TeacherCallLedger.Prefix).CountAsync());

        var arrivals = endpoint.Arrivals;
        Assert.True(arrivals[1].At - arrivals[0].At >= TimeSpan.FromSeconds(0.9), "the retry after a 429 waits for its Retry-After");
        Assert.True(arrivals[8].At - arrivals[7].At >= TimeSpan.FromSeconds(0.9), "no request is sent while the rate-limit headers say none remain");
    }

    [Fact]
    public async Task Calls_that_fail_after_every_retry_are_reported_per_sample_and_the_circuit_opens()
    {
        await using var endpoint = await FaultyOpenAiEndpoint.StartAsync(_ => Fault.ServerError);
        await using var gateway = await TestServiceHost.StartAsync(b => b.AddTeacherGateway(), a => a.MapTeacherGateway(), new Dictionary<string, string?>
        {
            ["TeacherGateway:Teachers:down:BaseUrl"] = endpoint.BaseUrl.ToString(),
            ["TeacherGateway:Teachers:down:Model"] = "scripted",
            ["TeacherGateway:Teachers:down:MaxRetries"] = "0",
            ["TeacherGateway:Teachers:down:MaxConcurrentCalls"] = "1",
        });
        var client = new Protos.V1.TeacherGateway.TeacherGatewayClient(gateway.Channel);

        var (rationales, failures) = await AnnotateWithFailures(client, ServiceTestData.Questions(12), 1, "down");

        Assert.Empty(rationales); // never an empty rationale in a failed call's place
        Assert.Equal(12, failures.Count);
        Assert.Equal(ServiceTestData.Questions(12).Select(q => q.Id), failures.Select(f => f.QuestionId));
        Assert.StartsWith("HTTP 500", failures[0].Reason);
        // After ten failures in a row the circuit opens: the last calls fail without reaching the endpoint.
        Assert.Contains("circuit is open", failures[^1].Reason);
        Assert.True(endpoint.Requests < 12, $"{endpoint.Requests} requests reached the endpoint");
        var usage = await client.GetUsageAsync(new GetUsageRequest());
        Assert.Equal(12, usage.Failures);
        Assert.Equal(0, usage.Requests);
        Assert.Empty(await gateway.Services.GetRequiredService<IObjectStore>().ListAsync(TeacherCallLedger.Prefix).ToListAsync()); // nothing recorded: a rerun asks again
    }

    [Fact]
    public async Task A_task_with_its_own_template_is_asked_with_it_and_the_usage_names_both()
    {
        var prompts = new System.Collections.Concurrent.ConcurrentBag<string>();
        await using var endpoint = await FaultyOpenAiEndpoint.StartAsync(_ => Fault.None, body =>
        {
            prompts.Add(body.GetProperty("messages")[0].GetProperty("content").GetString()!);
            return "So the answer is yes.";
        });
        await using var gateway = await TestServiceHost.StartAsync(b => b.AddTeacherGateway(), a => a.MapTeacherGateway(), new Dictionary<string, string?>
        {
            ["TeacherGateway:Teachers:fewshot:BaseUrl"] = endpoint.BaseUrl.ToString(),
            ["TeacherGateway:Teachers:fewshot:Model"] = "scripted",
            ["TeacherGateway:Teachers:fewshot:PromptsByTask:coin_flip"] = "few-shot-coin-flip",
        });
        var client = new Protos.V1.TeacherGateway.TeacherGatewayClient(gateway.Channel);
        var lastLetter = new Distillation.Data.Question("w1", "last_letter_concatenation", "Take the last letters of each words in \"Ada Bob\" and concatenate them.", "ab");

        await Annotate(client, [.. ServiceTestData.Questions(2), lastLetter], 1, "fewshot");

        Assert.Equal(2, prompts.Count(p => p.StartsWith("Answer yes or no.") && p.Contains("Q: A coin is heads up.")));
        Assert.Single(prompts, p => p.StartsWith("Q: Take the last letters") && p.EndsWith("Let's think step by step."));
    }

    [Theory]
    [InlineData("1s", 1000)]
    [InlineData("6m0s", 360_000)]
    [InlineData("250ms", 250)]
    [InlineData("1.5s", 1500)]
    [InlineData("2", 2000)]
    public void Rate_limit_reset_durations_are_read_as_openai_writes_them(string text, int milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), RateLimitHeaderPacing.Duration(text));

    private static async Task<(List<Distillation.Data.Rationale> Rationales, List<Protos.V1.TeacherFailure> Failures)> AnnotateWithFailures(
        Protos.V1.TeacherGateway.TeacherGatewayClient client, IReadOnlyList<Distillation.Data.Question> questions, int k, string teacher)
    {
        var request = new AnnotateRequest { RationalesPerQuestion = k, Teacher = teacher };
        request.Questions.AddRange(questions.Select(q => q.ToProto()));
        var (rationales, failures) = (new List<Distillation.Data.Rationale>(), new List<Protos.V1.TeacherFailure>());
        using var call = client.Annotate(request);
        await foreach (var response in call.ResponseStream.ReadAllAsync())
            if (response.Failure is { } failure) failures.Add(failure);
            else rationales.Add(response.Rationale.ToRecord());
        return (rationales, failures);
    }

    private static async Task<List<Distillation.Data.Rationale>> Annotate(Protos.V1.TeacherGateway.TeacherGatewayClient client,
        IReadOnlyList<Distillation.Data.Question> questions, int k, string teacher)
    {
        var (rationales, failures) = await AnnotateWithFailures(client, questions, k, teacher);
        Assert.Empty(failures);
        return rationales;
    }
}
