using Google.Protobuf;
using MentorKd.Protos.V1;

namespace MentorKd.Contracts;

// Training work on the broker. A job is the gRPC contract's StartTrainingJobRequest (the protos are the only
// definition of it), carried as protobuf bytes and read back typed; progress and outcome likewise.

/// <summary>Train a job, or continue it from its last checkpoint in the object store. Sent to the trainers' shared
/// queue: whichever replica is free takes it. A replica trains for a bounded slice, then sends the job back to the
/// queue, so no message is held for a whole job and a dead replica's slice is redelivered to another.
/// <paramref name="Reopen"/>: a job that ended cancelled or failed is taken up again from its last checkpoint (a run
/// started again after it failed or was cancelled); otherwise such a job answers with how it ended.</summary>
public sealed record TrainModel(string JobId, byte[] Request, bool Reopen = false)
{
    public const string Queue = "train-model";

    public static TrainModel For(StartTrainingJobRequest request, bool reopen = false) => new(request.JobId, request.ToByteArray(), reopen);

    public StartTrainingJobRequest ReadRequest() => StartTrainingJobRequest.Parser.ParseFrom(Request);
}

/// <summary>Stop a training job wherever it runs (or before it starts).</summary>
public sealed record CancelTrainingJob(string JobId, string Reason)
{
    public const string Queue = "cancel-training-job";
}

/// <summary>A training job's step or epoch progress (a few per second at most).</summary>
public sealed record TrainingJobProgressed(string JobId, byte[] Progress)
{
    public static TrainingJobProgressed For(TrainingProgress progress) => new(progress.JobId, progress.ToByteArray());

    public TrainingProgress ReadProgress() => TrainingProgress.Parser.ParseFrom(Progress);
}

/// <summary>A training job completed, failed or was cancelled; <c>Job</c> holds its checkpoint and accuracies.</summary>
public sealed record TrainingJobEnded(string JobId, byte[] Job)
{
    public static TrainingJobEnded For(TrainingJob job) => new(job.JobId, job.ToByteArray());

    public TrainingJob ReadJob() => TrainingJob.Parser.ParseFrom(Job);
}
