namespace MentorKd.Storage;

/// <summary>
/// Where datasets, checkpoints and reports live. Every write is all-or-nothing: an object becomes visible under
/// its key only once complete, so readers never see half an upload. Implementations: filesystem and MinIO/S3.
/// </summary>
public interface IObjectStore
{
    /// <summary>Stores <paramref name="content"/> under <paramref name="key"/>, replacing any previous object.</summary>
    Task<ObjectInfo> PutAsync(string key, Stream content, CancellationToken cancellationToken = default);

    /// <summary>Copies the object into <paramref name="destination"/>; <see cref="ObjectNotFoundException"/> when absent.</summary>
    Task GetAsync(string key, Stream destination, CancellationToken cancellationToken = default);

    /// <summary>Size and hash, or null when absent.</summary>
    Task<ObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Objects whose keys start with <paramref name="prefix"/>, in key order.</summary>
    IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default);

    Task DeleteAsync(string key, CancellationToken cancellationToken = default);
}
