using System.Security.Cryptography;
using System.Text.RegularExpressions;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.Storage;

namespace MentorKd.Augmentation.Runs;

/// <summary>
/// Turns MinIO's notification of an upload under runs/{runId}/incoming/*.jsonl into <see cref="RunQuestionsAdded"/>.
/// Other objects (the platform's own writes) are ignored. The questions are identified by their content hash, so a
/// notification delivered twice, or the same file uploaded again, starts one round.
/// </summary>
public sealed partial class BucketNotificationConsumer(IObjectStore store, UnfinishedRuns unfinished, ILogger<BucketNotificationConsumer> logger) : IConsumer<BucketNotification>
{
    [GeneratedRegex("^runs/(?<run>[0-9a-fA-F-]{36})/incoming/[^/]+\\.jsonl$")] private static partial Regex IncomingQuestions();

    public async Task Consume(ConsumeContext<BucketNotification> context)
    {
        foreach (var record in context.Message.Records ?? [])
        {
            if (record.EventName?.StartsWith("s3:ObjectCreated:", StringComparison.Ordinal) != true || record.S3?.Object?.Key is not { } encoded) continue;
            var key = Uri.UnescapeDataString(encoded.Replace('+', ' '));
            var match = IncomingQuestions().Match(key);
            if (!match.Success || !Guid.TryParse(match.Groups["run"].Value, out var runId)) continue;
            if (await store.StatAsync(key, context.CancellationToken) is null)
            {
                logger.LogWarning("Bucket notification for {Key}, which is not (or no longer) in the store; ignored", key);
                continue;
            }
            using var content = new MemoryStream();
            await store.GetAsync(key, content, context.CancellationToken);
            var sha256 = Convert.ToHexStringLower(SHA256.HashData(content.ToArray()));
            await unfinished.MarkAsync(runId, context.CancellationToken);
            await context.Publish(new RunQuestionsAdded(runId, key, sha256, "bucket-upload"), context.CancellationToken);
        }
    }
}

/// <summary>MinIO publishes plain JSON to an exchange: this endpoint is bound to it and reads raw JSON.</summary>
public sealed class BucketNotificationConsumerDefinition : ConsumerDefinition<BucketNotificationConsumer>
{
    /// <summary>The exchange MinIO's AMQP target publishes to (MINIO_NOTIFY_AMQP_EXCHANGE_*), fanout.</summary>
    public const string Exchange = "mentorkd-bucket-events";

    public BucketNotificationConsumerDefinition() => EndpointName = "mentorkd-bucket-notifications";

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint, IConsumerConfigurator<BucketNotificationConsumer> consumer,
        IRegistrationContext context)
    {
        endpoint.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
        if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
        {
            rabbit.ConfigureConsumeTopology = false;
            rabbit.Bind(Exchange, exchange => exchange.ExchangeType = "fanout");
        }
    }
}
