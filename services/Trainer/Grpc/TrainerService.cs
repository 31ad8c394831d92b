using System.Text.RegularExpressions;
using Grpc.Core;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Storage;
using MentorKd.Trainer.Jobs;
using MentorKd.Modeling.Runtime;
using Microsoft.AspNetCore.Authorization;
using MentorKd.ServiceDefaults.Security;

namespace MentorKd.Trainer.Grpc;

/// <summary>
/// Starts, watches and cancels training jobs. Starting records the job in the ledger and puts it on the trainers'
/// shared queue (<see cref="TrainModelConsumer"/>), so any replica may train it; every replica answers for every
/// job, live when a slice of it trains here, from the ledger otherwise.
/// </summary>
public sealed partial class TrainerService(TrainingJobLedger ledger, RunningJobs running, TrainingJobCancellation cancellation, IBus bus, TrainerOptions options)
    : Protos.V1.Trainer.TrainerBase
{
    [Authorize(Policy = PlatformRoles.Runner)]
    public override async Task<TrainingJob> StartJob(StartTrainingJobRequest request, ServerCallContext context)
    {
        Validate(request);
        RequireAllowed(request, context.Caller());
        RpcErrors.Require(request.Training.Epochs <= options.MaxEpochs, "training.epochs",
            $"{request.Training.Epochs} is above this trainer's limit of {options.MaxEpochs} (Trainer:MaxEpochs).");
        request.JobId = request.JobId.Length > 0 ? request.JobId : Guid.NewGuid().ToString("N");
        var token = context.CancellationToken;
        // Starting a known job again returns it; an unfinished one is also queued again, which resumes it if its
        // replica is gone and is dropped by the replica that holds it otherwise.
        var entry = await ledger.FindAsync(request.JobId, token);
        if (entry is not null) context.Caller().RequireOwnerOrAdmin(entry.Job.StartedBy, $"training job '{request.JobId}'");
        if (entry is { IsFinished: true }) return entry.Job;
        if (entry is null)
        {
            entry = TrainingJobLedger.Entry.New(request.JobId, context.Caller().Name);
            await ledger.SaveAsync(entry, token);
        }
        await bus.SendToQueueAsync(TrainModel.Queue, TrainModel.For(request), token);
        return running.Find(request.JobId)?.Snapshot ?? entry.Job;
    }

    [Authorize(Policy = PlatformRoles.Reader)]
    public override async Task WatchJob(WatchJobRequest request, IServerStreamWriter<TrainingProgress> responseStream, ServerCallContext context)
    {
        var token = context.CancellationToken;
        TrainingProgress? sent = null;
        while (true)
        {
            // Live while a slice trains here; between slices, or on another replica, the ledger has each epoch's state.
            var local = running.Find(request.JobId);
            var changed = local?.Changed ?? Task.Delay(LedgerPollInterval, token);
            var job = await FindAsync(request.JobId, token);
            if (!job.Progress.Equals(sent)) await responseStream.WriteAsync(sent = job.Progress, token);
            if (job.State is JobState.Completed or JobState.Failed or JobState.Cancelled) return;
            await Task.WhenAny(changed, Task.Delay(LedgerPollInterval, token)).Unwrap();
        }
    }

    [Authorize(Policy = PlatformRoles.Runner)]
    public override async Task<TrainingJob> CancelJob(CancelJobRequest request, ServerCallContext context)
    {
        var job = await FindAsync(request.JobId, context.CancellationToken);
        context.Caller().RequireOwnerOrAdmin(job.StartedBy, $"training job '{request.JobId}'");
        await cancellation.CancelAsync(request.JobId, "cancelled through the Trainer API", context.CancellationToken);
        return await FindAsync(request.JobId, context.CancellationToken);
    }

    [Authorize(Policy = PlatformRoles.Reader)]
    public override Task<TrainingJob> GetJob(GetJobRequest request, ServerCallContext context) => FindAsync(request.JobId, context.CancellationToken);

    private static readonly TimeSpan LedgerPollInterval = TimeSpan.FromSeconds(1);

    private async Task<TrainingJob> FindAsync(string jobId, CancellationToken cancellationToken)
    {
        RpcErrors.Require(jobId.Length > 0, "job_id", "is empty.");
        if (running.Find(jobId) is { } local) return local.Snapshot;
        var entry = await ledger.FindAsync(jobId, cancellationToken);
        if (entry is null) RpcErrors.NotFound($"job_id: no training job '{jobId}'.");
        return entry.Job;
    }

    private static void Validate(StartTrainingJobRequest r)
    {
        RpcErrors.Require(r.JobId.Length == 0 || JobIdPattern().IsMatch(r.JobId), "job_id", $"'{r.JobId}' may hold only letters, digits, '.', '_' and '-' (at most 200).");
        RpcErrors.Require(r.Role != TrainingRole.Unspecified, "role", "must be MENTOR or STUDENT.");
        RpcErrors.RequireKey(r.TrainQuestionsKey, "train_questions_key");
        RpcErrors.Require(r.RationaleKeys.Count > 0, "rationale_keys", "at least one rationale dataset is required.");
        for (int i = 0; i < r.RationaleKeys.Count; i++) RpcErrors.RequireKey(r.RationaleKeys[i], $"rationale_keys[{i}]");
        if (r.DevQuestionsKey.Length > 0) RpcErrors.RequireKey(r.DevQuestionsKey, "dev_questions_key");
        if (r.TestQuestionsKey.Length > 0) RpcErrors.RequireKey(r.TestQuestionsKey, "test_questions_key");
        RpcErrors.RequireKey(r.TokenizerKey, "tokenizer_key");
        RpcErrors.RequireKey(r.OutputKey, "output_key");
        if (r.InitCheckpointKey.Length > 0) RpcErrors.RequireKey(r.InitCheckpointKey, "init_checkpoint_key");
        RpcErrors.Require(r.Model is not null, "model", "is required.");
        // Starting from a checkpoint, the shape may be left at 0: the checkpoint's own (the only way for a pretrained model).
        bool ownShape = r.InitCheckpointKey.Length > 0 && r.Model!.Layers == 0 && r.Model.Heads == 0 && r.Model.Embedding == 0;
        if (!ownShape)
        {
            RpcErrors.Require(r.Model!.Layers > 0, "model.layers", $"must be positive (got {r.Model.Layers}), or 0 with heads and embedding to train init_checkpoint_key's own shape.");
            RpcErrors.Require(r.Model.Heads > 0, "model.heads", $"must be positive (got {r.Model.Heads}).");
            RpcErrors.Require(r.Model.Embedding > 0 && r.Model.Embedding % r.Model.Heads == 0, "model.embedding", $"must be a positive multiple of heads (got {r.Model.Embedding}).");
        }
        RpcErrors.Require(r.Model!.ContextLength > 16, "model.context_length", $"must be above 16 (got {r.Model.ContextLength}).");
        var t = r.Training;
        RpcErrors.Require(t is not null, "training", "is required.");
        RpcErrors.Require(t!.Epochs > 0, "training.epochs", $"must be positive (got {t.Epochs}).");
        RpcErrors.Require(t.BatchSize > 0, "training.batch_size", $"must be positive (got {t.BatchSize}).");
        RpcErrors.Require(double.IsFinite(t.LearningRate) && t.LearningRate > 0, "training.learning_rate", $"must be positive and finite (got {t.LearningRate}).");
        RpcErrors.Require(double.IsFinite(t.WeightDecay) && t.WeightDecay >= 0, "training.weight_decay", $"must be finite and not negative (got {t.WeightDecay}).");
        RpcErrors.Require(double.IsFinite(t.GradientClip) && t.GradientClip >= 0, "training.gradient_clip", $"must be finite and not negative, or 0 for the default (got {t.GradientClip}).");
        RpcErrors.Require(t.Lambda is >= 0 and <= 1, "training.lambda", $"must be in [0, 1] (got {t.Lambda}).");
        RpcErrors.Require(t.MatmulDtype is "" || TorchRuntime.DTypes.Contains(t.MatmulDtype), "training.matmul_dtype",
            $"'{t.MatmulDtype}' is not {string.Join(" or ", TorchRuntime.DTypes)}.");
        var soft = r.SoftLabels ?? new SoftLabelSource { Kind = SoftLabelSourceKind.None };
        RpcErrors.Require(soft.MentorDtype is "" || TorchRuntime.DTypes.Contains(soft.MentorDtype), "soft_labels.mentor_dtype",
            $"'{soft.MentorDtype}' is not {string.Join(" or ", TorchRuntime.DTypes)}.");
        bool usesSoft = soft.Kind is SoftLabelSourceKind.InProcess or SoftLabelSourceKind.MentorServer or SoftLabelSourceKind.Stored;
        RpcErrors.Require(double.IsFinite(t.Temperature) && t.Temperature >= 0, "training.temperature", $"must be finite and not negative (got {t.Temperature}).");
        RpcErrors.Require(!usesSoft || t.Temperature > 0, "training.temperature", $"must be positive with soft labels (got {t.Temperature}).");
        RpcErrors.Require(!usesSoft || t.KdMode != KdMode.None && t.KdMode != KdMode.Unspecified, "training.kd_mode", "must be KL, REVERSE_KL, JSD, MSE or CE when soft labels are given.");
        RpcErrors.Require(Enum.IsDefined(t.KdMode), "training.kd_mode", $"{(int)t.KdMode} is not a kd mode.");
        RpcErrors.Require(t.JsdBeta is >= 0 and < 1, "training.jsd_beta", $"must be in (0, 1), or 0 for the default (got {t.JsdBeta}).");
        if (soft.Kind == SoftLabelSourceKind.InProcess) RpcErrors.RequireKey(soft.MentorCheckpointKey, "soft_labels.mentor_checkpoint_key");
        RpcErrors.Require(soft.Kind is not (SoftLabelSourceKind.MentorServer or SoftLabelSourceKind.Stored) || t.KdMode is KdMode.Kl or KdMode.ReverseKl or KdMode.Jsd, "training.kd_mode",
            "must be KL, REVERSE_KL or JSD with soft labels from the mentor-server or a store: they are log-probabilities at T, and MSE and CE need the mentor's logits.");
        if (soft.Kind == SoftLabelSourceKind.MentorServer || soft.Kind == SoftLabelSourceKind.Stored && soft.MentorServerAddress.Length > 0)
            RpcErrors.Require(Uri.TryCreate(soft.MentorServerAddress, UriKind.Absolute, out _), "soft_labels.mentor_server_address", $"'{soft.MentorServerAddress}' is not an absolute URI.");
        if (soft.Kind == SoftLabelSourceKind.Stored)
        {
            RpcErrors.RequireKey(soft.StoredKey, "soft_labels.stored_key");
            if (soft.MentorCheckpointKey.Length > 0) RpcErrors.RequireKey(soft.MentorCheckpointKey, "soft_labels.mentor_checkpoint_key");
            RpcErrors.Require(soft.TopK <= 4096, "soft_labels.top_k", $"must be at most 4096 for a store (got {soft.TopK}).");
            RpcErrors.Require(t.KdMask != KdMask.Faithful, "training.kd_mask", "must be CLEAN (or unset) with stored soft labels: a store covers the positions that predict target tokens only.");
        }
        RpcErrors.Require(soft.TopK >= 0, "soft_labels.top_k", $"must not be negative (got {soft.TopK}).");
    }

    /// <summary>What only an admin (the platform's own services among them) may ask of a trainer: a job id of a run's form
    /// (a run's jobs are "&lt;run id&gt;-&lt;job&gt;", and the run takes the checkpoint of the job under that id), output under the
    /// platform's prefixes, and a checkpoint loaded into the shared mentor-server for soft labels.</summary>
    private static void RequireAllowed(StartTrainingJobRequest request, PlatformClient caller)
    {
        if (caller.IsAdmin) return;
        if (RunJobIdPattern().IsMatch(request.JobId))
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"job_id: '{request.JobId}' has the form of a run's job (<run id>-<job>); only an admin may start one."));
        caller.RequireWritableBy(request.OutputKey, "output_key");
        if (request.SoftLabels is { } soft)
        {
            if (soft.StoredKey.Length > 0) caller.RequireWritableBy(soft.StoredKey, "soft_labels.stored_key");
            if (soft.Kind is SoftLabelSourceKind.MentorServer or SoftLabelSourceKind.Stored && soft.MentorCheckpointKey.Length > 0)
                throw new RpcException(new Status(StatusCode.PermissionDenied, "soft_labels.mentor_checkpoint_key: loading a checkpoint into the shared mentor-server " +
                    "takes an admin; leave it empty to use the mentor it holds."));
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,200}$")]
    private static partial Regex JobIdPattern();

    [GeneratedRegex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}-")]
    private static partial Regex RunJobIdPattern();
}
