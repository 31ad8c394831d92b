using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MentorKd.MentorServer.Extensions;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;
using MentorKd.Tests.Shared;

namespace MentorKd.Services.Tests;

/// <summary>
/// The mentor-server's model behind OpenAI's HTTP API, driven by the official OpenAI .NET client (chat) and by plain
/// JSON (the legacy completions endpoint, which that client no longer covers).
/// </summary>
public class MentorServerOpenAiTests
{
    private const string Model = ServiceTestData.CheckpointKey;

    private static async Task<(TestServiceHost Host, HttpClient Http)> StartLoaded(bool load = true)
    {
        var host = await TestServiceHost.StartAsync(b => b.AddMentorServer(), a => a.MapMentorServer(),
            new Dictionary<string, string?> { ["MentorServer:Threads"] = "2" });
        if (load)
        {
            await ServiceTestData.PutCheckpointAsync(host.Services.GetRequiredService<IObjectStore>(), host.Folder);
            var client = new Protos.V1.MentorServer.MentorServerClient(host.Channel);
            Assert.True((await client.LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = Model })).Loaded);
        }
        var http = new HttpClient(host.CreateHandler()) { BaseAddress = new Uri("http://localhost/") };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestKeys.Admin);
        return (host, http);
    }

    private static ChatClient Chat(TestServiceHost host) => new(Model, new ApiKeyCredential(TestKeys.Admin), new OpenAIClientOptions
    {
        Endpoint = new Uri("http://localhost/v1"),
        Transport = new HttpClientPipelineTransport(new HttpClient(host.CreateHandler())),
    });

    [Fact]
    public async Task Models_lists_the_loaded_checkpoint_and_completions_sample_n_choices_per_prompt_with_usage_seeds_and_stop_sequences()
    {
        var (host, http) = await StartLoaded();
        await using var _ = host;
        using var __ = http;

        var models = await http.GetFromJsonAsync<JsonObject>("v1/models");
        Assert.Equal(Model, models!["data"]![0]!["id"]!.GetValue<string>());

        var request = new { model = Model, prompt = new[] { "Q: A coin is heads up. Ann flips the coin. Is the coin still heads up?\nA:", "Q: Bob flips\nA:" },
            n = 2, max_tokens = 12, temperature = 1.0, seed = 5 };
        var first = await PostJson(http, "v1/completions", request);
        var again = await PostJson(http, "v1/completions", request);
        var choices = first["choices"]!.AsArray();
        Assert.Equal(4, choices.Count); // two prompts × n = 2, indexed in that order
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c!["index"]!.GetValue<int>()));
        Assert.All(choices, c => Assert.Contains(c!["finish_reason"]!.GetValue<string>(), new[] { "stop", "length" }));
        Assert.Equal(first["choices"]!.ToJsonString(), again["choices"]!.ToJsonString()); // same seed, same samples
        var usage = first["usage"]!;
        Assert.True(usage["prompt_tokens"]!.GetValue<int>() > 0);
        Assert.InRange(usage["completion_tokens"]!.GetValue<int>(), 1, 4 * 12);
        Assert.Equal(usage["prompt_tokens"]!.GetValue<int>() + usage["completion_tokens"]!.GetValue<int>(), usage["total_tokens"]!.GetValue<int>());

        // A stop sequence cuts the text before it: stop at the first word the greedy continuation writes.
        var greedy = await PostJson(http, "v1/completions", new { model = Model, prompt = "Q: Ann flips\nA:", max_tokens = 8, temperature = 0 });
        var text = greedy["choices"]![0]!["text"]!.GetValue<string>();
        var word = text.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
        var cut = await PostJson(http, "v1/completions", new { model = Model, prompt = "Q: Ann flips\nA:", max_tokens = 8, temperature = 0, stop = new[] { word } });
        Assert.Equal(text[..text.IndexOf(word, StringComparison.Ordinal)], cut["choices"]![0]!["text"]!.GetValue<string>());
        Assert.Equal("stop", cut["choices"]![0]!["finish_reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_openai_client_chats_streamed_and_not_with_the_same_text_and_token_log_probabilities()
    {
        var (host, http) = await StartLoaded();
        await using var _ = host;
        using var __ = http;
        var chat = Chat(host);
        var options = new ChatCompletionOptions { Temperature = 0.8f, MaxOutputTokenCount = 10, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 };
#pragma warning disable OPENAI001 // Seed is marked experimental in the client
        options.Seed = 11;
#pragma warning restore OPENAI001
        ChatMessage[] messages = [new UserChatMessage("Q: A coin is heads up. Ann flips the coin. Is the coin still heads up?\nA:")];

        ChatCompletion whole = await chat.CompleteChatAsync(messages, options);
        var text = whole.Content[0].Text;
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal(ChatMessageRole.Assistant, whole.Role);
        Assert.Equal(whole.Usage.OutputTokenCount, whole.ContentTokenLogProbabilities.Count);
        Assert.All(whole.ContentTokenLogProbabilities, token =>
        {
            Assert.True(token.LogProbability <= 0);
            Assert.Equal(3, token.TopLogProbabilities.Count);
            Assert.True(token.TopLogProbabilities[0].LogProbability >= token.LogProbability - 1e-4, "the top alternative is at least as likely as the chosen token");
        });

        var streamed = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(text, streamed.ToString());
        Assert.Equal(whole.FinishReason, finish);
    }

    [Fact]
    public async Task Bad_requests_get_openai_errors_naming_the_parameter()
    {
        var (host, http) = await StartLoaded();
        await using var _ = host;
        using var __ = http;

        await AssertError(http, "v1/completions", new { model = "gpt-4o", prompt = "hi" }, HttpStatusCode.NotFound, "model");
        await AssertError(http, "v1/completions", new { model = Model, prompt = "hi", n = 0 }, HttpStatusCode.BadRequest, "n");
        await AssertError(http, "v1/completions", new { model = Model, prompt = new[] { 1, 2, 3 } }, HttpStatusCode.BadRequest, "prompt");
        await AssertError(http, "v1/completions", new { model = Model, prompt = "hi", temperature = 3 }, HttpStatusCode.BadRequest, "temperature");
        await AssertError(http, "v1/completions", new { model = Model, prompt = "hi", stop = new[] { "a", "b", "c", "d", "e" } }, HttpStatusCode.BadRequest, "stop");
        await AssertError(http, "v1/completions", new { model = Model, prompt = string.Join(' ', Enumerable.Repeat("coin", 500)) }, HttpStatusCode.BadRequest, "prompt");
        await AssertError(http, "v1/chat/completions", new { model = Model, messages = Array.Empty<object>() }, HttpStatusCode.BadRequest, "messages");
        await AssertError(http, "v1/chat/completions", new { model = Model, messages = new[] { new { role = "robot", content = "hi" } } }, HttpStatusCode.BadRequest, "messages[0].role");

        using var notJson = await http.PostAsync("v1/completions", new StringContent("{\"model\": ", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.Equal("invalid_request_error", (await notJson.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Without_a_loaded_model_the_list_is_empty_and_completions_are_unavailable()
    {
        var (host, http) = await StartLoaded(load: false);
        await using var _ = host;
        using var __ = http;
        var models = await http.GetFromJsonAsync<JsonObject>("v1/models");
        Assert.Empty(models!["data"]!.AsArray());
        await AssertError(http, "v1/chat/completions", new { model = Model, messages = new[] { new { role = "user", content = "hi" } } }, HttpStatusCode.ServiceUnavailable, null);
    }

    private static async Task<JsonObject> PostJson(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {json}");
        return json!;
    }

    private static async Task AssertError(HttpClient http, string path, object body, HttpStatusCode status, string? param)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.True(status == response.StatusCode, $"{JsonSerializer.Serialize(body)[..Math.Min(120, JsonSerializer.Serialize(body).Length)]}: {(int)response.StatusCode} {json}");
        var error = json!["error"]!;
        Assert.False(string.IsNullOrWhiteSpace(error["message"]!.GetValue<string>()));
        if (param is not null) Assert.Equal(param, error["param"]!.GetValue<string>());
    }
}
