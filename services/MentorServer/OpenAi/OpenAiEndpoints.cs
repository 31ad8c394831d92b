using System.Text.Json;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Security;

namespace MentorKd.MentorServer.OpenAi;

/// <summary>
/// The mentor-server's model behind OpenAI's HTTP API (<c>GET /v1/models</c>, <c>POST /v1/completions</c>,
/// <c>POST /v1/chat/completions</c>, JSON or server-sent events), so any OpenAI client, the teacher-gateway's included,
/// can use a model trained here. These routes need HTTP/1.1: the mentor-server listens for them on an endpoint of its
/// own beside the HTTP/2 gRPC one (see appsettings.json). Streamed choices are sent token by token once their batch
/// has decoded (the batching generator decodes a batch at a time).
/// </summary>
public static class OpenAiEndpoints
{
    public static WebApplication MapOpenAiApi(this WebApplication app)
    {
        app.MapGet("/v1/models", (MentorHost host) => Results.Json(new ModelList("list",
            host.Resident is { } resident ? [new ModelCard(resident.CheckpointKey, "model", Created, "mentorkd")] : []), OpenAiJson.Options))
            .RequireAuthorization(PlatformRoles.Reader);
        app.MapPost("/v1/completions", (HttpContext http, MentorHost host, OpenAiGeneration generation) =>
            Answer(http, async token => await CompleteAsync(http, host, generation, await Body<CompletionRequest>(http, token), token)))
            .RequireAuthorization(PlatformRoles.Runner);
        app.MapPost("/v1/chat/completions", (HttpContext http, MentorHost host, OpenAiGeneration generation) =>
            Answer(http, async token => await ChatAsync(http, host, generation, await Body<ChatCompletionRequest>(http, token), token)))
            .RequireAuthorization(PlatformRoles.Runner);
        return app;
    }

    // Models are loaded at run time; OpenAI's "created" is the time the server started.
    private static readonly long Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static async Task CompleteAsync(HttpContext http, MentorHost host, OpenAiGeneration generation, CompletionRequest request, CancellationToken token)
    {
        var resident = Loaded(host);
        var (prompts, settings) = OpenAiRequests.Read(request, resident);
        var results = await generation.CompleteAsync(resident, prompts, settings, token);
        var id = $"cmpl-{Guid.NewGuid():N}";
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var choices = results.SelectMany(r => r.Choices).Select((c, i) => (Index: i, Choice: c)).ToList();
        var usage = UsageOf(results);
        if (!request.Stream)
        {
            await WriteJson(http, new CompletionResponse(id, "text_completion", now, resident.CheckpointKey,
                choices.Select(c => new CompletionChoice(c.Index, c.Choice.Text, LegacyLogprobs(c.Choice), c.Choice.FinishReason)).ToList(), usage), token);
            return;
        }
        StartEvents(http);
        foreach (var (index, choice) in choices)
        {
            foreach (var piece in choice.Pieces)
                await Event(http, new CompletionResponse(id, "text_completion", now, resident.CheckpointKey, [new CompletionChoice(index, piece, null, null)], null), token);
            await Event(http, new CompletionResponse(id, "text_completion", now, resident.CheckpointKey, [new CompletionChoice(index, "", LegacyLogprobs(choice), choice.FinishReason)], null), token);
        }
        if (request.StreamOptions?.IncludeUsage == true)
            await Event(http, new CompletionResponse(id, "text_completion", now, resident.CheckpointKey, [], usage), token);
        await Done(http, token);
    }

    private static async Task ChatAsync(HttpContext http, MentorHost host, OpenAiGeneration generation, ChatCompletionRequest request, CancellationToken token)
    {
        var resident = Loaded(host);
        var (prompt, settings) = OpenAiRequests.Read(request, resident);
        var results = await generation.CompleteAsync(resident, [prompt], settings, token);
        var id = $"chatcmpl-{Guid.NewGuid():N}";
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var usage = UsageOf(results);
        var choices = results[0].Choices;
        if (!request.Stream)
        {
            await WriteJson(http, new ChatCompletionResponse(id, "chat.completion", now, resident.CheckpointKey,
                choices.Select((c, i) => new ChatChoice(i, new ChatReply("assistant", c.Text), null, ChatLogprobsOf(c), c.FinishReason)).ToList(), usage), token);
            return;
        }
        StartEvents(http);
        for (int i = 0; i < choices.Count; i++)
        {
            await Event(http, new ChatCompletionResponse(id, "chat.completion.chunk", now, resident.CheckpointKey, [new ChatChoice(i, null, new ChatReply("assistant", ""), null, null)], null), token);
            foreach (var piece in choices[i].Pieces)
                await Event(http, new ChatCompletionResponse(id, "chat.completion.chunk", now, resident.CheckpointKey, [new ChatChoice(i, null, new ChatReply(null, piece), null, null)], null), token);
            await Event(http, new ChatCompletionResponse(id, "chat.completion.chunk", now, resident.CheckpointKey,
                [new ChatChoice(i, null, new ChatReply(null, null), ChatLogprobsOf(choices[i]), choices[i].FinishReason)], null), token);
        }
        if (request.StreamOptions?.IncludeUsage == true)
            await Event(http, new ChatCompletionResponse(id, "chat.completion.chunk", now, resident.CheckpointKey, [], usage), token);
        await Done(http, token);
    }

    private static ModelServing.ResidentModel Loaded(MentorHost host) =>
        host.Resident ?? throw new OpenAiException(503, "no model is loaded: load a checkpoint through the gRPC LoadCheckpoint call first.", null, "model_not_loaded");

    private static Usage UsageOf(IReadOnlyList<PromptCompletion> results)
    {
        int prompt = results.Sum(r => r.PromptTokens), completion = results.Sum(r => r.Choices.Sum(c => c.CompletionTokens));
        return new Usage(prompt, completion, prompt + completion);
    }

    private static CompletionLogprobs? LegacyLogprobs(CompletionText choice)
    {
        if (choice.Logprobs is not { } tokens) return null;
        var offsets = new List<int>();
        int offset = 0;
        foreach (var piece in choice.Pieces) { offsets.Add(offset); offset += piece.Length; }
        return new CompletionLogprobs(tokens.Select(t => t.Token).ToList(), tokens.Select(t => t.Logprob).ToList(),
            tokens.Select(t => (IReadOnlyDictionary<string, float>)t.Top.GroupBy(a => a.Token).ToDictionary(g => g.Key, g => g.First().Logprob)).ToList(), offsets);
    }

    private static ChatLogprobs? ChatLogprobsOf(CompletionText choice) => choice.Logprobs is not { } tokens ? null : new ChatLogprobs(tokens
        .Select(t => new TokenLogprob(t.Token, t.Logprob, Bytes(t.Token), t.Top.Select(a => new TopLogprob(a.Token, a.Logprob, Bytes(a.Token))).ToList()))
        .ToList());

    private static IReadOnlyList<int> Bytes(string text) => System.Text.Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToList();

    private static async Task<T> Body<T>(HttpContext http, CancellationToken token)
    {
        try
        {
            return await http.Request.ReadFromJsonAsync<T>(OpenAiJson.Options, token)
                ?? throw new OpenAiException(400, "the request body is empty: send a JSON object.", null);
        }
        catch (JsonException e)
        {
            throw new OpenAiException(400, $"the request body is not valid JSON for this endpoint: {e.Message}", e.Path is { Length: > 2 } path ? path[2..] : null);
        }
        catch (InvalidOperationException e) when (!http.Request.HasJsonContentType())
        {
            throw new OpenAiException(400, $"send the request as application/json ({e.Message})", null);
        }
    }

    /// <summary>Runs a handler and answers its refusals as OpenAI does: a JSON error body and an HTTP status (429 with
    /// Retry-After when the model's queue is full).</summary>
    private static async Task Answer(HttpContext http, Func<CancellationToken, Task> handle)
    {
        var token = http.RequestAborted;
        try
        {
            await handle(token);
        }
        catch (Exception e) when (!http.Response.HasStarted && Refusal(e) is { } refusal)
        {
            if (refusal.Status == 429) http.Response.Headers.RetryAfter = "1";
            http.Response.StatusCode = refusal.Status;
            await http.Response.WriteAsJsonAsync(new ErrorResponse(new ErrorBody(refusal.Message, refusal.Type, refusal.Param, refusal.Code)), OpenAiJson.Options, token);
        }
    }

    private static (int Status, string Message, string Type, string? Param, string? Code)? Refusal(Exception e) => e switch
    {
        OpenAiException o => (o.Status, o.Message, o.Status switch { 404 => "not_found_error", 503 => "server_error", _ => "invalid_request_error" }, o.Param, o.Code),
        QueueFullException q => (429, q.Message, "rate_limit_error", null, "queue_full"),
        ArgumentException a => (400, a.Message, "invalid_request_error", "prompt", null),
        _ => null,
    };

    private static Task WriteJson<T>(HttpContext http, T body, CancellationToken token) => http.Response.WriteAsJsonAsync(body, OpenAiJson.Options, token);

    private static void StartEvents(HttpContext http)
    {
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
    }

    private static async Task Event<T>(HttpContext http, T chunk, CancellationToken token)
    {
        await http.Response.WriteAsync($"data: {JsonSerializer.Serialize(chunk, OpenAiJson.Options)}\n\n", token);
        await http.Response.Body.FlushAsync(token);
    }

    private static async Task Done(HttpContext http, CancellationToken token)
    {
        await http.Response.WriteAsync("data: [DONE]\n\n", token);
        await http.Response.Body.FlushAsync(token);
    }
}
