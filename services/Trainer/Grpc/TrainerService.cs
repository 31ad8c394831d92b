using Grpc.Core;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;
using MentorKd.Storage;
using MentorKd.Trainer.Jobs;

namespace MentorKd.Trainer.Grpc;

/// <summary>Starts, watches and cancels training jobs; the work itself runs in <see cref="TrainingJobRunner"/>.</summary>
public sealed class TrainerService(TrainingJobQueue jobs) : Protos.V1.Trainer.TrainerBase
{
    public override Task<TrainingJob> StartJob(StartTrainingJobRequest request, ServerCallContext context)
    {
        Validate(request);
        var jobId = request.JobId.Length > 0 ? request.JobId : Guid.NewGuid().ToString("N");
        return Task.FromResult(jobs.Enqueue(jobId, request).Snapshot);
    }

    public override async Task WatchJob(WatchJobRequest request, IServerStreamWriter<TrainingProgress> responseStream, ServerCallContext context)
    {
        var job = Find(request.JobId);
        while (true)
        {
            var changed = job.Changed;
            var snapshot = job.Snapshot;
            await responseStream.WriteAsync(snapshot.Progress, context.CancellationToken);
            if (snapshot.State is JobState.Completed or JobState.Failed or JobState.Cancelled) return;
            await changed.WaitAsync(context.CancellationToken);
        }
    }

    public override Task<TrainingJob> CancelJob(CancelJobRequest request, ServerCallContext context)
    {
        var job = Find(request.JobId);
        job.Cancellation.Cancel();
        if (job.Snapshot.State == JobState.Queued) job.Update(j => j.State = JobState.Cancelled);
        return Task.FromResult(job.Snapshot);
    }

    public override Task<TrainingJob> GetJob(GetJobRequest request, ServerCallContext context) => Task.FromResult(Find(request.JobId).Snapshot);

    private TrainingJobRecord Find(string jobId)
    {
        RpcErrors.Require(jobId.Length > 0, "job_id", "is empty.");
        var job = jobs.Find(jobId);
        if (job is null) RpcErrors.NotFound($"job_id: no training job '{jobId}'.");
        return job;
    }

    private static void Validate(StartTrainingJobRequest r)
    {
        RpcErrors.Require(r.Role != TrainingRole.Unspecified, "role", "must be MENTOR or STUDENT.");
        RpcErrors.RequireKey(r.TrainQuestionsKey, "train_questions_key");
        RpcErrors.Require(r.RationaleKeys.Count > 0, "rationale_keys", "at least one rationale dataset is required.");
        for (int i = 0; i < r.RationaleKeys.Count; i++) RpcErrors.RequireKey(r.RationaleKeys[i], $"rationale_keys[{i}]");
        if (r.DevQuestionsKey.Length > 0) RpcErrors.RequireKey(r.DevQuestionsKey, "dev_questions_key");
        if (r.TestQuestionsKey.Length > 0) RpcErrors.RequireKey(r.TestQuestionsKey, "test_questions_key");
        RpcErrors.RequireKey(r.TokenizerKey, "tokenizer_key");
        RpcErrors.RequireKey(r.OutputKey, "output_key");
        RpcErrors.Require(r.Model is not null, "model", "is required.");
        RpcErrors.Require(r.Model!.Layers > 0, "model.layers", $"must be positive (got {r.Model.Layers}).");
        RpcErrors.Require(r.Model.Heads > 0, "model.heads", $"must be positive (got {r.Model.Heads}).");
        RpcErrors.Require(r.Model.Embedding > 0 && r.Model.Embedding % r.Model.Heads == 0, "model.embedding", $"must be a positive multiple of heads (got {r.Model.Embedding}).");
        RpcErrors.Require(r.Model.ContextLength > 16, "model.context_length", $"must be above 16 (got {r.Model.ContextLength}).");
        var t = r.Training;
        RpcErrors.Require(t is not null, "training", "is required.");
        RpcErrors.Require(t!.Epochs > 0, "training.epochs", $"must be positive (got {t.Epochs}).");
        RpcErrors.Require(t.BatchSize > 0, "training.batch_size", $"must be positive (got {t.BatchSize}).");
        RpcErrors.Require(t.LearningRate > 0, "training.learning_rate", $"must be positive (got {t.LearningRate}).");
        RpcErrors.Require(t.Lambda is >= 0 and <= 1, "training.lambda", $"must be in [0, 1] (got {t.Lambda}).");
        var soft = r.SoftLabels ?? new SoftLabelSource { Kind = SoftLabelSourceKind.None };
        bool usesSoft = soft.Kind is SoftLabelSourceKind.InProcess or SoftLabelSourceKind.MentorServer;
        RpcErrors.Require(!usesSoft || t.Temperature > 0, "training.temperature", $"must be positive with soft labels (got {t.Temperature}).");
        RpcErrors.Require(!usesSoft || t.KdMode != KdMode.None && t.KdMode != KdMode.Unspecified, "training.kd_mode", "must be KL, MSE or CE when soft labels are given.");
        if (soft.Kind == SoftLabelSourceKind.InProcess) RpcErrors.RequireKey(soft.MentorCheckpointKey, "soft_labels.mentor_checkpoint_key");
        if (soft.Kind == SoftLabelSourceKind.MentorServer)
            RpcErrors.Require(Uri.TryCreate(soft.MentorServerAddress, UriKind.Absolute, out _), "soft_labels.mentor_server_address", $"'{soft.MentorServerAddress}' is not an absolute URI.");
        RpcErrors.Require(soft.TopK >= 0, "soft_labels.top_k", $"must not be negative (got {soft.TopK}).");
    }

}
