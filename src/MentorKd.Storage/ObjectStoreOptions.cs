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
}
