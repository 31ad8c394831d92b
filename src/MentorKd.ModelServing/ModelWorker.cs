using System.Collections.Concurrent;
using MentorKd.ServiceDefaults;

namespace MentorKd.ModelServing;

/// <summary>
/// One dedicated thread per resident model. TorchSharp's dispose scopes and grad mode are thread-local, so all
/// model work runs here, synchronously, in arrival order; callers await a task. The queue is bounded: when it
/// is full a call fails at once with <see cref="QueueFullException"/> (ResourceExhausted) instead of piling up.
/// </summary>
public sealed class ModelWorker : IDisposable
{
    private readonly BlockingCollection<Action> _queue;
    private readonly Thread _thread;

    public ModelWorker(string name, int capacity)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity must be positive.");
        _queue = new BlockingCollection<Action>(capacity);
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public int Pending => _queue.Count;

    public Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken = default)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Execute()
        {
            if (cancellationToken.IsCancellationRequested) { completion.TrySetCanceled(cancellationToken); return; }
            try { completion.TrySetResult(work()); }
            catch (OperationCanceledException e) { completion.TrySetCanceled(e.CancellationToken); }
            catch (Exception e) { completion.TrySetException(e); }
        }
        if (!_queue.TryAdd(Execute))
            throw new QueueFullException($"{_thread.Name}: {_queue.BoundedCapacity} requests are already waiting; retry later.");
        // A caller that gives up is answered at once, not when the worker reaches its turn.
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(() => completion.TrySetCanceled(cancellationToken));
            completion.Task.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        }
        return completion.Task;
    }

    public Task RunAsync(Action work, CancellationToken cancellationToken = default) =>
        RunAsync(() => { work(); return true; }, cancellationToken);

    private void Loop()
    {
        foreach (var work in _queue.GetConsumingEnumerable()) work();
    }

    /// <summary>Stops taking work and waits for the thread; true when it finished (only then is the model safe to free).</summary>
    public bool Stop(TimeSpan timeout)
    {
        if (!_queue.IsAddingCompleted) _queue.CompleteAdding();
        return _thread.Join(timeout);
    }

    public void Dispose()
    {
        // A thread still busy after the timeout keeps the queue (disposing it under the thread would crash the process).
        if (Stop(TimeSpan.FromSeconds(30))) _queue.Dispose();
    }
}
