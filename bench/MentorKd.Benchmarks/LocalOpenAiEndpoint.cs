using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace MentorKd.Benchmarks;

/// <summary>
/// An OpenAI-compatible chat endpoint on loopback that answers at once ("… so the answer is yes."), so the teacher
/// benchmark measures the gateway rather than a model; with fault rates it answers a share of requests with 429
/// (Retry-After: 0), 500, truncated JSON or no choices, drawn from a seeded generator. It records every call it answered.
/// </summary>
internal sealed class LocalOpenAiEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<string> _answered = new();
    private readonly Random _faults;
    private readonly double _rateLimited, _serverErrors, _malformed;
    private int _requests;

    private LocalOpenAiEndpoint(double rateLimited, double serverErrors, double malformed, int seed)
    {
        (_rateLimited, _serverErrors, _malformed, _faults) = (rateLimited, serverErrors, malformed, new Random(seed));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1));
        _app = builder.Build();
        _app.MapPost("/v1/chat/completions", AnswerAsync);
    }

    public Uri BaseUrl => new(_app.Urls.First() + "/v1");

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The prompts of the calls answered with a reply (in the order answered).</summary>
    public IReadOnlyList<string> Answered => _answered.ToList();

    public static async Task<LocalOpenAiEndpoint> StartAsync(double rateLimited = 0, double serverErrors = 0, double malformed = 0, int seed = 1)
    {
        var endpoint = new LocalOpenAiEndpoint(rateLimited, serverErrors, malformed, seed);
        await endpoint._app.StartAsync();
        return endpoint;
    }

    private async Task AnswerAsync(HttpContext http)
    {
        Interlocked.Increment(ref _requests);
        var body = await JsonSerializer.DeserializeAsync<JsonElement>(http.Request.Body);
        var prompt = body.GetProperty("messages")[0].GetProperty("content").GetString()!;
        double draw;
        lock (_faults) draw = _faults.NextDouble();
        if (draw < _rateLimited)
        {
            http.Response.StatusCode = 429;
            http.Response.Headers.RetryAfter = "0";
            await http.Response.WriteAsync("""{"error":{"message":"Rate limit reached","type":"requests"}}""");
            return;
        }
        if ((draw -= _rateLimited) < _serverErrors)
        {
            http.Response.StatusCode = 500;
            await http.Response.WriteAsync("""{"error":{"message":"The server had an error","type":"server_error"}}""");
            return;
        }
        if ((draw -= _serverErrors) < _malformed)
        {
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(draw < _malformed / 2 ? """{"id":"x","choices":[{"index":0,"mess""" : """{"id":"x","choices":[]}""");
            return;
        }
        await http.Response.WriteAsJsonAsync(new
        {
            id = "chatcmpl-bench", @object = "chat.completion", created = 0, model = "local",
            choices = new[] { new { index = 0, message = new { role = "assistant", content = "Each flip reverses the coin, so the answer is yes." }, finish_reason = "stop" } },
            usage = new { prompt_tokens = 40, completion_tokens = 12, total_tokens = 52 },
        });
        _answered.Enqueue(prompt);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
