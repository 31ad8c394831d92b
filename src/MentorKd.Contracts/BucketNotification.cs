namespace MentorKd.Contracts;

// MinIO's bucket notification as its AMQP target publishes it (plain JSON, not a MassTransit envelope); only the
// fields the platform reads. Object keys in Records are URL-encoded.

/// <summary>One MinIO event message: e.g. EventName "s3:ObjectCreated:Put", Key "mentorkd/runs/…/incoming/x.jsonl".</summary>
public sealed record BucketNotification(string? EventName, string? Key, IReadOnlyList<BucketNotificationRecord>? Records);

public sealed record BucketNotificationRecord(string? EventName, BucketNotificationS3? S3);

public sealed record BucketNotificationS3(BucketNotificationBucket? Bucket, BucketNotificationObject? Object);

public sealed record BucketNotificationBucket(string? Name);

public sealed record BucketNotificationObject(string? Key, long Size, string? ETag);
