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
            MaxRetryAttempts = Math.Max(1, options.MaxRetries), // Polly needs one; 0 retries is handled below
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromSeconds(1),
            MaxDelay = TimeSpan.FromSeconds(60),
            ShouldRetryAfterHeader = true,
            // An open circuit is waited out like any transient failure; the backoff outlasts a short break.
            ShouldHandle = args => ValueTask.FromResult(options.MaxRetries > 0 &&
                (HttpClientResiliencePredicates.IsTransient(args.Outcome) || args.Outcome.Exception is BrokenCircuitException)),
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
}
