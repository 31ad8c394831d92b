using MentorKd.Modeling.Runtime;
using MentorKd.ModelServing;
using MentorKd.ServiceDefaults;
using MentorKd.Storage;
using Microsoft.Extensions.Options;

namespace MentorKd.MentorServer;

/// <summary>The mentor this server holds: loaded, swapped and used only on its own thread.</summary>
public sealed class MentorHost : IDisposable
{
    private readonly ModelSlot _slot;

    public MentorHost(IObjectStore store, IOptions<MentorServerOptions> options)
    {
        var o = options.Value;
        TorchRuntime.SetThreads(o.Threads);
        _slot = new ModelSlot("mentor-server model", store, o.CacheRoot, o.QueueCapacity, o.Device);
        Generator = new BatchingGenerator(_slot.Worker, () => Resident ?? throw new InvalidOperationException("no mentor is loaded."), o.BatchSize);
    }

    public ModelWorker Worker => _slot.Worker;
    public BatchingGenerator Generator { get; }
    public ResidentModel? Resident => _slot.Resident;

    /// <summary>The loaded mentor, or FailedPrecondition for the caller.</summary>
    public ResidentModel Required
    {
        get
        {
            var resident = Resident;
            if (resident is null) RpcErrors.FailedPrecondition("no mentor is loaded: call LoadCheckpoint first.");
            return resident;
        }
    }

    public Task<ResidentModel> LoadAsync(string key, string dtype, CancellationToken cancellationToken) => _slot.LoadAsync(key, dtype, cancellationToken);

    public Task UnloadAsync(CancellationToken cancellationToken) => _slot.UnloadAsync(cancellationToken);

    public void Dispose() => _slot.Dispose();
}
