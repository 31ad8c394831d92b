using Grpc.Core;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Training;
using MentorKd.ModelServing;
using MentorKd.Protos.V1;
using Microsoft.Extensions.Options;

namespace MentorKd.Augmentation.Runs;

/// <summary>Reports a stage's progress into the run's feed.</summary>
public delegate void StageReporter(string stage, RunEventKind kind, string message, double done, double total, TrainingProgress? training);

/// <summary>
/// A run's training jobs on the trainer service: start (idempotent by job id), forward progress while it trains,
/// and record the finished job as a stage. Cancelling the run cancels the job on the trainer.
/// </summary>
public sealed class TrainingJobs(Protos.V1.Trainer.TrainerClient trainer, IOptions<AugmentationOptions> options, ILogger<TrainingJobs> logger)
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

        TrainingJob finished;
        try
        {
            // Start (or find) the job and follow it to its end. If the trainer goes away meanwhile (a crash, a
            // redeploy), starting the same job id on the trainer that comes back resumes it from its last epoch.
            finished = await _retry.RunAsync($"training job {request.JobId}", async () =>
            {
                await trainer.StartJobAsync(request, cancellationToken: cancellationToken);
                using var watch = trainer.WatchJob(new WatchJobRequest { JobId = request.JobId }, cancellationToken: cancellationToken);
                await foreach (var progress in watch.ResponseStream.ReadAllAsync(cancellationToken))
                    report(job, RunEventKind.StageProgress, $"epoch {progress.Epoch}/{progress.Epochs} loss {progress.Loss:F3}", progress.Step, progress.TotalSteps, progress);
                return await trainer.GetJobAsync(new GetJobRequest { JobId = request.JobId }, cancellationToken: cancellationToken);
            }, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The run was cancelled: stop the job too, whatever happens to this call.
            try { await trainer.CancelJobAsync(new CancelJobRequest { JobId = request.JobId }, cancellationToken: CancellationToken.None); }
            catch (RpcException e) { logger.LogWarning("Could not cancel training job {Job}: {Error}", request.JobId, e.Status.Detail); }
            throw;
        }

        if (finished.State != JobState.Completed)
            throw new InvalidOperationException($"training job {request.JobId} ended {finished.State}{(finished.Error.Length > 0 ? $": {finished.Error}" : "")}");

        var stage = new TrainingStage(request.JobId, finished.BestCheckpoint.Key, finished.BestCheckpoint.Sha256, finished.BestCheckpoint.SizeBytes, finished.Outcome.Key,
            finished.Examples, finished.Parameters, finished.DevAccuracy, finished.TestAccuracy, finished.SelectedEpoch, rationaleKeys,
            softLabels is null ? null : softLabelsCheckpoint,
            softLabels is null ? null : softLabels.Kind == SoftLabelSourceKind.MentorServer ? $"mentor-server at {softLabels.MentorServerAddress}" : "in process");
        await stages.SaveAsync(stageName, stage, cancellationToken);
        report(job, RunEventKind.StageCompleted, $"{job}: dev-selected epoch {stage.SelectedEpoch}: dev {stage.DevAccuracy:P1}, test {stage.TestAccuracy:P1}", 0, 0, null);
        return stage;
    }
}
