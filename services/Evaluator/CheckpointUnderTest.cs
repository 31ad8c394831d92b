using MentorKd.Modeling.Runtime;
using MentorKd.ModelServing;
using MentorKd.Storage;
using Microsoft.Extensions.Options;

namespace MentorKd.Evaluator;

/// <summary>The checkpoint being evaluated, kept resident between calls on the same key; one model thread.</summary>
public sealed class CheckpointUnderTest : IDisposable
{
    private readonly CheckpointLoader _loader;
    private readonly EvaluatorOptions _options;
    private ResidentModel? _resident;

    public CheckpointUnderTest(IObjectStore store, IOptions<EvaluatorOptions> options)
    {
        _options = options.Value;
        TorchRuntime.SetThreads(_options.Threads);
        _loader = new CheckpointLoader(store, _options.CacheRoot);
        Worker = new ModelWorker("evaluator model", _options.QueueCapacity);
    }

    public ModelWorker Worker { get; }

    /// <summary>Runs <paramref name="work"/> on the model thread with the checkpoint loaded (fetched first if it is not the resident one).</summary>
    public async Task<T> WithModelAsync<T>(string key, Func<ResidentModel, T> work, CancellationToken cancellationToken)
    {
        string? local = _resident?.CheckpointKey == key ? null : await _loader.FetchAsync(key, cancellationToken);
        return await Worker.RunAsync(() =>
        {
            if (local is not null || _resident?.CheckpointKey != key)
            {
                _resident?.Dispose();
                _resident = CheckpointLoader.Load(local ?? throw new InvalidOperationException("checkpoint changed while queued; retry."), key, "float32", _options.Device);
            }
            return work(_resident);
        }, cancellationToken);
    }

    public void Dispose()
    {
        bool stopped = Worker.Stop(TimeSpan.FromSeconds(30));
        Worker.Dispose();
        if (stopped) _resident?.Dispose();
    }
}
