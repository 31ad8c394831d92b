using MentorKd.Storage;

namespace MentorKd.ModelServing;

/// <summary>
/// The one model a service holds in memory, with the thread it runs on: checkpoints are fetched from the object
/// store off that thread, then loaded and swapped on it, so no request ever sees a model half replaced.
/// </summary>
public sealed class ModelSlot : IDisposable
{
    private readonly CheckpointLoader _loader;
    private readonly string _device;
    private ResidentModel? _resident;

    public ModelSlot(string name, IObjectStore store, string cacheRoot, int queueCapacity, string device)
    {
        _loader = new CheckpointLoader(store, cacheRoot);
        _device = device;
        Worker = new ModelWorker(name, queueCapacity);
    }

    public ModelWorker Worker { get; }

    public ResidentModel? Resident => Volatile.Read(ref _resident);

    public Task<string> FetchAsync(string key, CancellationToken cancellationToken) => _loader.FetchAsync(key, cancellationToken);

    /// <summary>Loads a fetched folder and makes it the resident model. Call on <see cref="Worker"/>'s thread.</summary>
    public ResidentModel Swap(string localFolder, string key, string dtype)
    {
        var loaded = CheckpointLoader.Load(localFolder, key, dtype, _device);
        Interlocked.Exchange(ref _resident, loaded)?.Dispose();
        return loaded;
    }

    public async Task<ResidentModel> LoadAsync(string key, string dtype, CancellationToken cancellationToken)
    {
        var local = await FetchAsync(key, cancellationToken);
        return await Worker.RunAsync(() => Swap(local, key, dtype), cancellationToken);
    }

    public Task UnloadAsync(CancellationToken cancellationToken) =>
        Worker.RunAsync(() => Interlocked.Exchange(ref _resident, null)?.Dispose(), cancellationToken);

    public void Dispose()
    {
        // Free the model only once its thread has stopped using it.
        bool stopped = Worker.Stop(TimeSpan.FromSeconds(30));
        Worker.Dispose();
        if (stopped) _resident?.Dispose();
    }
}
