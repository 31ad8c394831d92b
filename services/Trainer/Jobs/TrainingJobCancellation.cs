namespace MentorKd.Trainer.Jobs;

/// <summary>Stops a job wherever it is: a slice training here stops at once; the ledger's cancel marker stops a
/// slice on another replica at its next lease beat, and a job still queued when its command is taken.</summary>
public sealed class TrainingJobCancellation(TrainingJobLedger ledger, RunningJobs running)
{
    public async Task CancelAsync(string jobId, string reason, CancellationToken cancellationToken)
    {
        await ledger.RequestCancelAsync(jobId, reason, cancellationToken);
        running.Find(jobId)?.Cancellation.Cancel();
    }
}
