using System.Net;
using System.Threading.RateLimiting;
using MentorKd.Distillation.Teachers;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace MentorKd.TeacherGateway.OpenAi;

/// <summary>
/// The HTTP client one LLM teacher is called through, with the teacher's resilience settings as a Polly pipeline
/// (Microsoft.Extensions.Http.Resilience): retries with exponential backoff and jitter on 429, 5xx, timeouts and dropped
/// connections, honouring Retry-After; a circuit breaker that stops calls for a while when most fail; a requests-per-
/// minute limit; a timeout per attempt. Inside it, each attempt is counted and the API's rate-limit headers pace the next.
/// </summary>
public static class TeacherHttpClient
{
    public static HttpClient Create(string name, OpenAiTeacherOptions options)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { Name = $"teacher-{name}" };
        builder.AddRetry(new HttpRetryStrategyOptions
        {
            MaxRetryAttempts = int.MaxValue, // bounded by ShouldRetry: MaxRetries, or OutageSeconds while the endpoint is down
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromSeconds(1),
            MaxDelay = TimeSpan.FromSeconds(30),
            ShouldRetryAfterHeader = true,
            ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args, options)),
        });
        builder.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
        {
            FailureRatio = 0.5,
            MinimumThroughput = 10,
            SamplingDuration = TimeSpan.FromSeconds(30),
            BreakDuration = TimeSpan.FromSeconds(options.CircuitBreakSeconds),
        });
        if (options.RequestsPerMinute is { } perMinute)
            builder.AddRateLimiter(new SlidingWindowRateLimiter(new SlidingWindowRateLimiterOptions
            {
                PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), SegmentsPerWindow = 12, QueueLimit = int.MaxValue,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            }));
        builder.AddTimeout(TimeSpan.FromSeconds(options.TimeoutSeconds));

        var handler = new ResilienceHandler(builder.Build())
        {
            InnerHandler = new RateLimitHeaderPacing
            {
                InnerHandler = new AttemptCounting { InnerHandler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) } },
            },
        };
        // The pipeline's own timeouts bound each attempt; the client's would cut across retries.
        return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    private static readonly ResiliencePropertyKey<DateTime> FirstFailure = new("mentorkd.teacher.first-failure");

    /// <summary>
    /// A failed attempt is tried again: up to <see cref="OpenAiTeacherOptions.MaxRetries"/> times for errors of the call
    /// (429, 5xx, a timeout, a cut connection), and for as long as <see cref="OpenAiTeacherOptions.OutageSeconds"/> while the
    /// endpoint itself is away (connection refused, 502/503/504, the circuit open): an outage delays the calls, it does not
    /// fail them. An open circuit is waited out like any transient failure. A host name that does not resolve is not an
    /// outage (most often a mistyped endpoint): it gets the call's MaxRetries.
    /// </summary>
    private static bool ShouldRetry(RetryPredicateArguments<HttpResponseMessage> args, OpenAiTeacherOptions options)
    {
        var outcome = args.Outcome;
        if (options.MaxRetries == 0 || !(HttpClientResiliencePredicates.IsTransient(outcome) || outcome.Exception is BrokenCircuitException)) return false;
        bool away = outcome.Exception is BrokenCircuitException or HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError }
            || outcome.Result?.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;
        if (!away) return args.AttemptNumber < options.MaxRetries;
        var now = DateTime.UtcNow;
        if (!args.Context.Properties.TryGetValue(FirstFailure, out var first)) args.Context.Properties.Set(FirstFailure, first = now);
        return now - first < TimeSpan.FromSeconds(options.OutageSeconds) || args.AttemptNumber < options.MaxRetries;
    }
}
