using MentorKd.Modeling.Runtime;
using MentorKd.ModelServing;
using MentorKd.ServiceDefaults;
using MentorKd.Storage;
using Microsoft.Extensions.Options;

namespace MentorKd.MentorServer;

/// <summary>The mentor this server holds: loaded, swapped and used only on its own thread.</summary>
public sealed class MentorHost : IDisposable
{
    private readonly CheckpointLoader _loader;
    private ResidentModel? _resident;

    public MentorHost(IObjectStore store, IOptions<MentorServerOptions> options)
    {
        var o = options.Value;
        TorchRuntime.SetThreads(o.Threads);
        Options = o;
        Worker = new ModelWorker("mentor-server model", o.QueueCapacity);
        _loader = new CheckpointLoader(store, o.CacheRoot);
        Generator = new BatchingGenerator(Worker, () => Resident ?? throw new InvalidOperationException("no mentor is loaded."), o.BatchSize);
    }

    public MentorServerOptions Options { get; }
    public ModelWorker Worker { get; }
    public BatchingGenerator Generator { get; }
    public ResidentModel? Resident => Volatile.Read(ref _resident);

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

    public async Task<ResidentModel> LoadAsync(string key, string dtype, CancellationToken cancellationToken)
    {
        var local = await _loader.FetchAsync(key, cancellationToken);
        return await Worker.RunAsync(() =>
        {
            var loaded = CheckpointLoader.Load(local, key, dtype, Options.Device);
            Interlocked.Exchange(ref _resident, loaded)?.Dispose();
            return loaded;
        }, cancellationToken);
    }

    public Task UnloadAsync(CancellationToken cancellationToken) =>
        Worker.RunAsync(() => Interlocked.Exchange(ref _resident, null)?.Dispose(), cancellationToken);

    public void Dispose()
    {
        bool stopped = Worker.Stop(TimeSpan.FromSeconds(30));
        Worker.Dispose();
        if (stopped) _resident?.Dispose();
    }
}
