using MassTransit;
using MentorKd.Contracts;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Options;

namespace MentorKd.Trainer.Jobs;

/// <summary>
/// Takes a job from the trainers' shared queue and trains one slice of it (at most
/// <see cref="TrainerOptions.SliceSeconds"/>, ended at an epoch boundary), holding the job's lease meanwhile. A
/// job that is not finished goes back to the queue for whichever replica is free next; a finished, failed or
/// cancelled one is published as <see cref="TrainingJobEnded"/>. A command for a job that already ended
/// publishes its end again, so a duplicate changes nothing.
/// </summary>
public sealed class TrainModelConsumer(TrainingJobLedger ledger, TrainingJobLeases leases, RunningJobs running, TrainingSliceExecutor executor,
    IOptions<TrainerOptions> options, ILogger<TrainModelConsumer> logger) : IConsumer<TrainModel>
{
    public async Task Consume(ConsumeContext<TrainModel> context)
    {
        var request = context.Message.ReadRequest();
        var jobId = request.JobId;
        var token = context.CancellationToken;
        if (running.TryClaim(jobId) is not { } claim)
        {
            logger.LogInformation("Job {Job} is being worked on by this replica; this copy of its command is dropped", jobId);
            return;
        }
        try
        {
            await TrainAsync(context, request, jobId, claim, token);
        }
        finally
        {
            running.Unclaim(jobId, claim);
        }
    }

    private async Task TrainAsync(ConsumeContext<TrainModel> context, StartTrainingJobRequest request, string jobId, object claim, CancellationToken token)
    {
        if (context.Message.Reopen) await ledger.ReopenAsync(jobId, token);
        if (await PublishIfEndedAsync(context, jobId)) return;
        if (!await leases.TryAcquireAsync(jobId, token))
        {
            logger.LogInformation("Job {Job} is carried by another replica; this copy of its command is dropped", jobId);
            return;
        }
        try
        {
            if (await PublishIfEndedAsync(context, jobId)) return; // it ended while its lease was watched
            var entry = await ledger.FindAsync(jobId, token) ?? TrainingJobLedger.Entry.New(jobId);
            var job = new TrainingJobRecord(request, entry.Job);
            if (await ledger.IsCancelRequestedAsync(jobId, token))
            {
                await EndAsync(context, job, JobState.Cancelled, "");
                return;
            }

            running.Add(job);
            using var work = PlatformWork.Start("training", jobId, token);
            work.Tag("mentorkd.training.role", request.Role.ToString());
            bool finished;
            try
            {
                finished = await TrainSliceAsync(context, job, entry);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                work.SetOutcome("interrupted");
                throw; // the host is stopping: the command goes back to the queue and the job resumes from its last epoch
            }
            catch (OperationCanceledException)
            {
                work.SetOutcome("cancelled");
                await EndAsync(context, job, JobState.Cancelled, "");
                return;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Training job {Job} failed", jobId);
                await EndAsync(context, job, JobState.Failed, e.Message);
                return;
            }
            finally
            {
                running.Remove(job);
            }
            if (job.Snapshot.Progress.TokensPerSecond > 0)
                PlatformTelemetry.TrainingTokensPerSecond.Record(job.Snapshot.Progress.TokensPerSecond, new KeyValuePair<string, object?>("role", request.Role.ToString()));

            if (finished)
            {
                work.SetOutcome("completed");
                await context.Publish(TrainingJobEnded.For(job.Snapshot), token);
                return;
            }
            work.SetOutcome("paused");
            // Back to the queue; the lease (and this replica's claim) go first so the next taker need not wait.
            await leases.ReleaseAsync(jobId, token);
            running.Unclaim(jobId, claim);
            var queue = await context.GetSendEndpoint(context.ReceiveContext.InputAddress);
            await queue.Send(context.Message with { Reopen = false }, token);
        }
        finally
        {
            await leases.ReleaseAsync(jobId, CancellationToken.None);
        }
    }

    private async Task<bool> TrainSliceAsync(ConsumeContext context, TrainingJobRecord job, TrainingJobLedger.Entry entry)
    {
        var sliceEnds = DateTime.UtcNow.AddSeconds(options.Value.SliceSeconds);
        await using var stopping = context.CancellationToken.Register(job.Cancellation.Cancel);
        await using var beat = leases.KeepAlive(job.JobId, async beatToken =>
        {
            if (await ledger.IsCancelRequestedAsync(job.JobId, beatToken)) await job.Cancellation.CancelAsync();
        });
        // TorchSharp state is thread-local and a training step must not hop threads: the slice gets its own thread.
        var slice = Task.Factory.StartNew(() =>
        {
            job.Update(j => j.State = JobState.Running);
            return executor.Run(job, entry, sliceEnds);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await ForwardProgressAsync(context, job, slice);
        return await slice;
    }

    /// <summary>Publishes the job's progress as it changes until the slice ends (best effort: a lost update is not retried).</summary>
    private async Task ForwardProgressAsync(ConsumeContext context, TrainingJobRecord job, Task slice)
    {
        TrainingProgress? sent = null;
        while (true)
        {
            var changed = job.Changed;
            var progress = job.Snapshot.Progress;
            if (progress.Step > 0 && !progress.Equals(sent))
            {
                try { await context.Publish(TrainingJobProgressed.For(progress), CancellationToken.None); }
                catch (Exception e) { logger.LogWarning("Progress of job {Job} not published: {Error}", job.JobId, e.Message); }
                sent = progress;
            }
            if (slice.IsCompleted) return;
            await Task.WhenAny(changed, slice);
        }
    }

    private async Task EndAsync(ConsumeContext context, TrainingJobRecord job, JobState state, string error)
    {
        job.Update(j => (j.State, j.Error) = (state, error));
        var slot = (await ledger.FindAsync(job.JobId, CancellationToken.None))?.Slot;
        await ledger.SaveAsync(new TrainingJobLedger.Entry(job.Snapshot, slot), CancellationToken.None);
        await context.Publish(TrainingJobEnded.For(job.Snapshot), CancellationToken.None);
    }

    private async Task<bool> PublishIfEndedAsync(ConsumeContext context, string jobId)
    {
        if (await ledger.FindAsync(jobId, context.CancellationToken) is not { IsFinished: true } ended) return false;
        await context.Publish(TrainingJobEnded.For(ended.Job), context.CancellationToken);
        return true;
    }
}

/// <summary>The trainers' shared queue: one slice at a time per replica.</summary>
public sealed class TrainModelConsumerDefinition(IOptions<TrainerOptions> options)
    : WorkQueueDefinition<TrainModelConsumer>(TrainModel.Queue, options.Value.ConcurrentJobs);
