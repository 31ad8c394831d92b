using MassTransit;
using MentorKd.Contracts;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Training;
using MentorKd.ModelServing;
using MentorKd.Protos.V1;
using Microsoft.Extensions.Options;

namespace MentorKd.Augmentation.Runs;

/// <summary>Reports a stage's progress into the run's feed.</summary>
public delegate void StageReporter(string stage, RunEventKind kind, string message, double done, double total, TrainingProgress? training);

/// <summary>
/// A run's training jobs on the trainers' shared queue: sent as <see cref="TrainModel"/> (whichever trainer replica
/// is free takes it, and a job whose replica dies is taken over from its last checkpoint), followed through the
/// trainers' events, and recorded as a stage once completed. Cancelling the run cancels the job.
/// </summary>
public sealed class TrainingJobs(IBus bus, EventFollowers<TrainingJobUpdate> followers, IOptions<AugmentationOptions> options, ILogger<TrainingJobs> logger)
{
    private readonly TransientRetry _retry = new(TimeSpan.FromSeconds(options.Value.RetrySeconds), logger);

    public async Task<TrainingStage> TrainAsync(RunKeys keys, RunStageRecords stages, string job, TrainingRole role, ModelConfig model,
        ReasoningTrainingOptions training, int contextLength, IReadOnlyList<string> rationaleKeys, SoftLabelSource? softLabels,
        string? softLabelsCheckpoint, StageReporter report, CancellationToken cancellationToken, string? trainQuestionsKey = null)
    {
        var stageName = $"training-{job}";
        if (await stages.FindAsync<TrainingStage>(stageName, cancellationToken) is { } done) return done;

        var request = new StartTrainingJobRequest
        {
            JobId = keys.TrainingJobId(job),
            Role = role,
            TrainQuestionsKey = trainQuestionsKey ?? keys.TrainQuestions,
            DevQuestionsKey = keys.DevQuestions,
            TestQuestionsKey = keys.TestQuestions,
            TokenizerKey = keys.Tokenizer,
            Model = new ModelShape { Layers = model.Layers, Heads = model.Heads, Embedding = model.Embedding, ContextLength = contextLength },
            Training = training.ToProto(),
            SoftLabels = softLabels ?? new SoftLabelSource { Kind = SoftLabelSourceKind.None },
            OutputKey = keys.Checkpoints(job),
        };
        request.RationaleKeys.AddRange(rationaleKeys);
        var soft = softLabels is null ? "" : $", soft labels from {(softLabels.Kind == SoftLabelSourceKind.MentorServer ? "the mentor-server" : "the mentor in process")} ({training.KdMode}, λ={training.Lambda}, T={training.Temperature})";
        report(job, RunEventKind.StageStarted, $"{job}: {model.Layers}×{model.Embedding}, {training.Epochs} epochs{soft}", 0, 0, null);

        TrainingJob? finished = null;
        // Following starts before the job is sent, so its end cannot slip by; sending it again is harmless (a job
        // that already ended answers with its end, one that is training elsewhere keeps its replica).
        using (var follower = followers.Follow(request.JobId))
        {
            try
            {
                await _retry.RunAsync($"sending training job {request.JobId}", async () =>
                {
                    await bus.SendToQueueAsync(TrainModel.Queue, TrainModel.For(request), cancellationToken);
                    return true;
                }, cancellationToken, anyFailureIsTransient: true);
                await foreach (var update in follower.Updates.ReadAllAsync(cancellationToken))
                {
                    if (update.Ended is not null) { finished = update.Ended; break; }
                    var p = update.Progress!;
                    report(job, RunEventKind.StageProgress, $"epoch {p.Epoch}/{p.Epochs} loss {p.Loss:F3}", p.Step, p.TotalSteps, p);
                }
            }
            catch (OperationCanceledException)
            {
                // The run was cancelled: stop the job too, wherever it trains.
                try { await bus.Publish(new CancelTrainingJob(request.JobId, "the run was cancelled"), CancellationToken.None); }
                catch (Exception e) { logger.LogWarning("Could not cancel training job {Job}: {Error}", request.JobId, e.Message); }
                throw;
            }
        }
        cancellationToken.ThrowIfCancellationRequested();

        if (finished is not { State: JobState.Completed })
            throw new InvalidOperationException($"training job {request.JobId} ended {finished?.State}{(finished?.Error.Length > 0 ? $": {finished.Error}" : "")}");

        var stage = new TrainingStage(request.JobId, finished.BestCheckpoint.Key, finished.BestCheckpoint.Sha256, finished.BestCheckpoint.SizeBytes, finished.Outcome.Key,
            finished.Examples, finished.Parameters, finished.DevAccuracy, finished.TestAccuracy, finished.SelectedEpoch, rationaleKeys,
            softLabels is null ? null : softLabelsCheckpoint,
            softLabels is null ? null : softLabels.Kind == SoftLabelSourceKind.MentorServer ? $"mentor-server at {softLabels.MentorServerAddress}" : "in process");
        await stages.SaveAsync(stageName, stage, cancellationToken);
        report(job, RunEventKind.StageCompleted, $"{job}: dev-selected epoch {stage.SelectedEpoch}: dev {stage.DevAccuracy:P1}, test {stage.TestAccuracy:P1}", 0, 0, null);
        return stage;
    }
}
