using Grpc.Core;

namespace MentorKd.Augmentation.Runs;

/// <summary>
/// Retries a step of a run while the service or broker it needs is briefly away (restarting, redeploying): gRPC
/// Unavailable / Aborted / ResourceExhausted, or a publish that failed while the broker reconnects. Everything else,
/// and running out of <see cref="AugmentationOptions.RetrySeconds"/>, fails the step at once.
/// </summary>
public sealed class TransientRetry(TimeSpan budget, ILogger logger)
{
    public async Task<T> RunAsync<T>(string what, Func<Task<T>> step, CancellationToken cancellationToken, bool anyFailureIsTransient = false)
    {
        var deadline = DateTime.UtcNow + budget;
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                return await step();
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && DateTime.UtcNow < deadline && IsTransient(e, anyFailureIsTransient))
            {
                logger.LogWarning("{What} failed ({Error}); retrying in {Delay}", what, e.Message, delay);
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    public Task RunAsync(string what, Func<Task> step, CancellationToken cancellationToken, bool anyFailureIsTransient = false) =>
        RunAsync(what, async () => { await step(); return true; }, cancellationToken, anyFailureIsTransient);

    private static bool IsTransient(Exception e, bool anyFailureIsTransient) => e switch
    {
        OperationCanceledException => false,
        RpcException rpc => rpc.StatusCode is StatusCode.Unavailable or StatusCode.Aborted or StatusCode.ResourceExhausted,
        _ => anyFailureIsTransient,
    };
}
