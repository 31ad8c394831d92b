using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace MentorKd.Services.Tests;

/// <summary>What a scripted OpenAI-compatible endpoint does with one request.</summary>
internal enum Fault { None, RateLimited, ServerError, Hang, TruncatedJson, EmptyChoices, RateLimitHeadersExhausted }

/// <summary>
/// An OpenAI-compatible chat endpoint on real Kestrel that injects faults by script: request i (counted from 1) gets
/// <c>script(i)</c>: a 429 with Retry-After, a 500, no reply until the caller gives up, a truncated JSON body, a reply
/// with no choices, or a good reply whose rate-limit headers say nothing remains for a second. Good replies are
/// <c>reply(request body)</c>, by default a reasoning that states an answer ("... so the answer is yes."). It records when
/// each request arrived.
/// </summary>
internal sealed class FaultyOpenAiEndpoint : IAsyncDisposable
{
    private readonly KestrelTestHost _host;
    private readonly ConcurrentQueue<(int Number, DateTime At)> _arrivals = new();
    private int _count;

    private FaultyOpenAiEndpoint(KestrelTestHost host) => _host = host;

    public Uri BaseUrl => new(_host.HttpAddress, "v1");

    public int Requests => Volatile.Read(ref _count);

    public IReadOnlyList<(int Number, DateTime At)> Arrivals => _arrivals.OrderBy(a => a.Number).ToList();

    public static async Task<FaultyOpenAiEndpoint> StartAsync(Func<int, Fault> script, Func<JsonElement, string>? reply = null)
    {
        reply ??= _ => "Both flips cancel out, so the answer is yes.";
        FaultyOpenAiEndpoint? endpoint = null;
        var host = await KestrelTestHost.StartAsync(_ => { }, app => app.MapPost("/v1/chat/completions", async (HttpContext http) =>
        {
            int number = Interlocked.Increment(ref endpoint!._count);
            endpoint._arrivals.Enqueue((number, DateTime.UtcNow));
            var body = await JsonSerializer.DeserializeAsync<JsonElement>(http.Request.Body);
            await AnswerAsync(http, script(number), reply(body));
        }).AllowAnonymous()); // a stand-in for someone else's API: the platform's keys are not its business
        endpoint = new FaultyOpenAiEndpoint(host);
        return endpoint;
    }

    private static async Task AnswerAsync(HttpContext http, Fault fault, string content)
    {
        var response = http.Response;
        switch (fault)
        {
            case Fault.RateLimited:
                response.StatusCode = 429;
                response.Headers.RetryAfter = "1";
                await response.WriteAsJsonAsync(new { error = new { message = "Rate limit reached", type = "requests" } });
                return;
            case Fault.ServerError:
                response.StatusCode = 500;
                await response.WriteAsJsonAsync(new { error = new { message = "The server had an error", type = "server_error" } });
                return;
            case Fault.Hang:
                await Task.Delay(TimeSpan.FromSeconds(30), http.RequestAborted).ContinueWith(_ => { });
                return;
            case Fault.TruncatedJson:
                response.ContentType = "application/json";
                await response.WriteAsync("""{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","con""");
                return;
            case Fault.EmptyChoices:
                await response.WriteAsJsonAsync(new { id = "chatcmpl-2", @object = "chat.completion", choices = Array.Empty<object>() });
                return;
            case Fault.RateLimitHeadersExhausted:
                response.Headers["x-ratelimit-remaining-requests"] = "0";
                response.Headers["x-ratelimit-reset-requests"] = "1s";
                break;
        }
        await response.WriteAsJsonAsync(new
        {
            id = "chatcmpl-3", @object = "chat.completion", created = 0, model = "scripted",
            choices = new[] { new { index = 0, message = new { role = "assistant", content }, finish_reason = "stop" } },
            usage = new { prompt_tokens = 20, completion_tokens = 10, total_tokens = 30 },
        });
    }

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
