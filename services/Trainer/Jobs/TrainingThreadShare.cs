using MentorKd.Modeling.Runtime;

namespace MentorKd.Trainer.Jobs;

/// <summary>
/// Shares the replica's libtorch threads (<see cref="TrainerOptions.Threads"/>) among the slices training at once
/// (<see cref="TrainerOptions.ConcurrentJobs"/>). libtorch's OpenMP thread count belongs to the calling thread, and each
/// slice trains on a thread of its own, so a slice takes its share before it trains and again after every epoch (a
/// neighbour may have started or ended meanwhile). With one job at a time the share never changes, and with
/// <see cref="TrainerOptions.FixedThreadShare"/> it is the same for every job whatever its neighbours do.
/// </summary>
public sealed class TrainingThreadShare(TrainerOptions options)
{
    private readonly int _total = options.Threads == 0 ? Environment.ProcessorCount : options.Threads;
    private readonly bool _fixed = options.FixedThreadShare;
    private readonly int _concurrentJobs = options.ConcurrentJobs;
    private int _training;

    /// <summary>Counts the calling slice as training until disposed.</summary>
    public IDisposable Enter()
    {
        Interlocked.Increment(ref _training);
        return new Leave(this);
    }

    [ThreadStatic] private static int _threadsHere;

    /// <summary>Sets the calling thread's libtorch threads to its share of the replica's, only when the share changed
    /// (a training thread stalled after an epoch in the compose smoke run when it was set again unchanged).</summary>
    public void TakeShare()
    {
        var share = Math.Max(1, _total / Math.Max(1, _fixed ? _concurrentJobs : Volatile.Read(ref _training)));
        if (share == _threadsHere) return;
        _threadsHere = share;
        TorchRuntime.SetThreads(share);
    }

    private sealed class Leave(TrainingThreadShare share) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0) Interlocked.Decrement(ref share._training);
        }
    }
}
