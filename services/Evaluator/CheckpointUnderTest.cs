using MentorKd.Modeling.Runtime;
using MentorKd.ModelServing;
using MentorKd.Storage;
using Microsoft.Extensions.Options;

namespace MentorKd.Evaluator;

/// <summary>The checkpoint being evaluated, kept resident between calls on the same key; one model thread.</summary>
public sealed class CheckpointUnderTest : IDisposable
{
    private readonly ModelSlot _slot;

    public CheckpointUnderTest(IObjectStore store, IOptions<EvaluatorOptions> options)
    {
        var o = options.Value;
        TorchRuntime.SetThreads(o.Threads);
        _slot = new ModelSlot("evaluator model", store, o.CacheRoot, o.QueueCapacity, o.Device);
    }

    /// <summary>Runs <paramref name="work"/> on the model thread with the checkpoint loaded in <paramref name="dtype"/> (fetched first if it is not the resident one).</summary>
    public async Task<T> WithModelAsync<T>(string key, string dtype, Func<ResidentModel, T> work, CancellationToken cancellationToken)
    {
        bool Resident([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] ResidentModel? model) => model?.CheckpointKey == key && model.DType == dtype;
        string? local = Resident(_slot.Resident) ? null : await _slot.FetchAsync(key, cancellationToken);
        return await _slot.Worker.RunAsync(() =>
        {
            var resident = _slot.Resident;
            if (!Resident(resident))
            {
                // Another checkpoint was loaded while this call waited: fetch again (rare; blocking I/O on the model thread is acceptable here).
                local ??= _slot.FetchAsync(key, cancellationToken).GetAwaiter().GetResult();
                resident = _slot.Swap(local, key, dtype);
            }
            return work(resident);
        }, cancellationToken);
    }

    public void Dispose() => _slot.Dispose();
}
