using System.Text.Json;
using Grpc.Core;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Distillation.Data;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using MentorKd.ServiceDefaults.Telemetry;
using MentorKd.Modeling.Runtime;

namespace MentorKd.Augmentation.Datasets;

/// <summary>
/// Takes an augmentation from the shared queue: loads the mentor into the mentor-server, samples through it, stores
/// and registers the correct rationales, then records the outcome next to them (<c>{output}.outcome.json</c>, written
/// last). A command delivered again after that publishes the recorded outcome instead of sampling again.
/// </summary>
public sealed class AugmentQuestionsConsumer(DatasetRegistry registry, DatasetAugmenter augmenter, Protos.V1.MentorServer.MentorServerClient mentor,
    IObjectStore store, ILogger<AugmentQuestionsConsumer> logger) : IConsumer<AugmentQuestions>
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);

    public async Task Consume(ConsumeContext<AugmentQuestions> context)
    {
        var command = context.Message;
        var token = context.CancellationToken;
        var outcomeKey = command.OutputKey + ".outcome.json";
        if (await store.StatAsync(outcomeKey, token) is not null)
        {
            using var buffer = new MemoryStream();
            await store.GetAsync(outcomeKey, buffer, token);
            await context.Publish(JsonSerializer.Deserialize<QuestionsAugmented>(buffer.ToArray(), JsonLines.Options)! with { AugmentationId = command.AugmentationId }, token);
            return;
        }

        QuestionsAugmented outcome;
        using var work = PlatformWork.Start("augmentation", command.AugmentationId, token);
        try
        {
            var questions = await registry.FindAsync(command.QuestionsDatasetId, token)
                ?? throw new InvalidDataException($"dataset '{command.QuestionsDatasetId}' is not registered.");
            var info = await mentor.GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: token);
            var dtype = command.MentorDtype is "" ? "float32" : command.MentorDtype;
            if (!info.Loaded || info.CheckpointKey != command.MentorCheckpointKey || !TorchRuntime.Serves(info.Dtype, dtype))
                await mentor.LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = command.MentorCheckpointKey, Dtype = dtype }, cancellationToken: token);
            var lastReport = DateTime.MinValue;
            var augmented = await augmenter.AugmentAsync(questions, command.OutputDatasetId, command.OutputKey, command.SamplesPerQuestion, command.ReadSampling(),
                keepIncorrect: false, async done =>
                {
                    if (done < questions.Rows && DateTime.UtcNow - lastReport < ProgressInterval) return;
                    lastReport = DateTime.UtcNow;
                    await context.Publish(new QuestionsAugmentationProgressed(command.AugmentationId, done, questions.Rows), token);
                }, token);
            outcome = new QuestionsAugmented(command.AugmentationId, command.OutputKey, augmented.Samples, augmented.Correct, augmented.QuestionsCovered,
                augmented.Dataset.Producer ?? "mentor", "");
            using var record = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(outcome, JsonLines.Options));
            await store.PutAsync(outcomeKey, record, token);
            work.SetOutcome("completed");
        }
        catch (Exception e) when (e is RpcException { StatusCode: StatusCode.InvalidArgument or StatusCode.NotFound or StatusCode.FailedPrecondition } or InvalidDataException)
        {
            // A bad request fails the same way however often it is tried.
            var error = e is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : e.Message;
            logger.LogWarning("Augmentation {Augmentation} refused: {Error}", command.AugmentationId, error);
            outcome = new QuestionsAugmented(command.AugmentationId, command.OutputKey, 0, 0, 0, "", error);
        }
        await context.Publish(outcome, token);
    }
}

/// <summary>One augmentation at a time per replica (the mentor-server holds one mentor).</summary>
public sealed class AugmentQuestionsConsumerDefinition() : WorkQueueDefinition<AugmentQuestionsConsumer>(AugmentQuestions.Queue);
