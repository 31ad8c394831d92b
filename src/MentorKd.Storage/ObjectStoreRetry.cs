using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Minio.Exceptions;
using Polly;
using Polly.Retry;

namespace MentorKd.Storage;

/// <summary>
/// Waits out an S3 server that is briefly away (restarting, failing over, a dropped connection, a 5xx): each call is
/// tried again with exponential backoff until it succeeds or <see cref="Budget"/> has passed since it was first made,
/// then fails with <see cref="ObjectStoreUnavailableException"/> naming the operation, the key and how long it waited.
/// Answers the server gave (no such object, access denied, a bad key) are not retried.
/// </summary>
public sealed class ObjectStoreRetry
{
    private static readonly ResiliencePropertyKey<DateTime> Deadline = new("mentorkd.object-store.deadline");
    private readonly ResiliencePipeline _pipeline;

    public ObjectStoreRetry(TimeSpan budget, ILogger? logger = null)
    {
        Budget = budget;
        logger ??= NullLogger.Instance;
        _pipeline = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = int.MaxValue, // bounded by the deadline instead
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(250),
            MaxDelay = TimeSpan.FromSeconds(5),
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsTransient(e, args.Context.CancellationToken)
                && DateTime.UtcNow < args.Context.Properties.GetValue(Deadline, DateTime.MinValue)),
            OnRetry = args =>
            {
                logger.LogWarning("Object store call failed ({Error}); retrying in {Delay:0.0} s (attempt {Attempt})",
                    args.Outcome.Exception?.Message, args.RetryDelay.TotalSeconds, args.AttemptNumber + 1);
                return ValueTask.CompletedTask;
            },
        }).Build();
    }

    /// <summary>No retries: every failure is reported at once.</summary>
    public static ObjectStoreRetry None { get; } = new(TimeSpan.Zero);

    public TimeSpan Budget { get; }

    /// <param name="what">The operation and key, for the error when the store stays away ("put 'runs/…/model.safetensors'").</param>
    public async Task<T> RunAsync<T>(string what, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(Deadline, DateTime.UtcNow + Budget);
        try
        {
            return await _pipeline.ExecuteAsync(async c => await call(c.CancellationToken), context);
        }
        catch (Exception e) when (Budget > TimeSpan.Zero && IsTransient(e, cancellationToken))
        {
            throw new ObjectStoreUnavailableException($"the object store could not be reached for {Budget.TotalSeconds:0} s ({what}): {e.Message}", e);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    public Task RunAsync(string what, Func<CancellationToken, Task> call, CancellationToken cancellationToken) =>
        RunAsync(what, async token => { await call(token); return true; }, cancellationToken);

    /// <summary>Failures of reaching the server, not answers from it.</summary>
    public static bool IsTransient(Exception e, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return false;
        for (var inner = e; inner is not null; inner = inner.InnerException)
            switch (inner)
            {
                case ObjectNotFoundException or Minio.Exceptions.ObjectNotFoundException or BucketNotFoundException or AuthorizationException
                    or AccessDeniedException or InvalidObjectNameException or InvalidBucketNameException:
                    return false;
                case ConnectionException or InternalServerException or HttpRequestException or IOException or SocketException or TimeoutException:
                    return true;
                case OperationCanceledException: // an HTTP timeout: the caller's token was not cancelled
                    return true;
            }
        return false;
    }
}

/// <summary>The object store stayed unreachable for the whole retry budget.</summary>
public sealed class ObjectStoreUnavailableException(string message, Exception inner) : IOException(message, inner);
