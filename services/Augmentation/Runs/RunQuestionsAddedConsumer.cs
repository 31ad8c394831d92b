using System.Text.Json;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Storage;

namespace MentorKd.Augmentation.Runs;

/// <summary>
/// Accepts new questions for a run as a retraining round: records the request under the run (keyed by the questions'
/// content hash, so the same questions announced twice make one request) and makes sure a worker picks it up.
/// </summary>
public sealed class RunQuestionsAddedConsumer(IObjectStore store, LiveRuns runs, ILoadSagaRepository<RunState> sagas, ILogger<RunQuestionsAddedConsumer> logger)
    : IConsumer<RunQuestionsAdded>
{
    public async Task Consume(ConsumeContext<RunQuestionsAdded> context)
    {
        var message = context.Message;
        var keys = new RunKeys(message.CorrelationId);
        if (await store.StatAsync(keys.Config, context.CancellationToken) is null)
        {
            logger.LogWarning("Questions {Key} name run {Run}, which does not exist; ignored", message.QuestionsKey, keys.Id);
            return;
        }
        var requestKey = keys.RoundRequest(message.Sha256);
        if (await store.StatAsync(requestKey, context.CancellationToken) is null)
        {
            var request = new RoundRequest(message.QuestionsKey, message.Sha256, message.Source, DateTime.UtcNow);
            using var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(request, JsonLines.Options));
            await store.PutAsync(requestKey, json, context.CancellationToken);
            logger.LogInformation("Run {Run}: retraining round requested with {Key} ({Source})", keys.Id, message.QuestionsKey, message.Source);
        }
        else logger.LogInformation("Run {Run}: questions {Sha} were already added; no new round", keys.Id, message.Sha256);
        // A failed or cancelled run keeps the request for when it is started again; otherwise a worker takes it up now
        // (an attempt already working is told there is more to do).
        if (await sagas.Load(message.CorrelationId) is { } state && state.ToProto().Status is Protos.V1.RunStatus.Failed or Protos.V1.RunStatus.Cancelled) return;
        runs.TryBegin(message.CorrelationId);
    }
}
