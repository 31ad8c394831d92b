using System.ComponentModel.DataAnnotations;

namespace MentorKd.Storage;

/// <summary>Which object store a service uses, bound from the "ObjectStore" configuration section.</summary>
public sealed record ObjectStoreOptions
{
    /// <summary>"filesystem" (embedded mode) or "minio" (MinIO / any S3 server).</summary>
    [Required, RegularExpression("^(filesystem|minio)$", ErrorMessage = "ObjectStore:Kind must be filesystem or minio.")]
    public string Kind { get; init; } = "filesystem";

    /// <summary>Root folder of the filesystem store.</summary>
    public string Root { get; init; } = "data/objects";

    /// <summary>host:port of the S3 endpoint.</summary>
    public string? Endpoint { get; init; }
    public string? AccessKey { get; init; }
    public string? SecretKey { get; init; }
    public string Bucket { get; init; } = "mentorkd";
    public bool UseTls { get; init; }
    /// <summary>Create the bucket at start when it is missing (otherwise a missing bucket stops the service).</summary>
    public bool CreateBucket { get; init; }
    /// <summary>How long a service waits for the S3 endpoint at start before giving up with an error.</summary>
    [Range(1, 3600)] public int StartupTimeoutSeconds { get; init; } = 30;
    /// <summary>How long a call waits out an S3 server that is away (connection refused or cut, 5xx) before it fails
    /// (0: no retries). Long enough for a restart, short enough that a store gone for good fails the work with its reason.</summary>
    [Range(0, 3600)] public int RetrySeconds { get; init; } = 120;
}
