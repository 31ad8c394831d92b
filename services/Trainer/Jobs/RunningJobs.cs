using System.Collections.Concurrent;

namespace MentorKd.Trainer.Jobs;

/// <summary>The job slices training on this replica now, by job id: WatchJob and GetJob read them live, and a
/// cancellation reaches them at once (replicas elsewhere see the ledger's cancel marker on their next lease beat).</summary>
public sealed class RunningJobs
{
    private readonly ConcurrentDictionary<string, TrainingJobRecord> _jobs = new();
    private readonly ConcurrentDictionary<string, object> _claimed = new();

    /// <summary>Null when a command for this job is already being worked on here (a replica training several jobs at
    /// once must not take a second copy of one: its lease is the replica's own); otherwise the claim to give back.</summary>
    public object? TryClaim(string jobId)
    {
        var claim = new object();
        return _claimed.TryAdd(jobId, claim) ? claim : null;
    }

    /// <summary>Gives a claim back (once; a later claim of the same job by another command is left alone).</summary>
    public void Unclaim(string jobId, object claim) => _claimed.TryRemove(new KeyValuePair<string, object>(jobId, claim));

    public TrainingJobRecord? Find(string jobId) => _jobs.GetValueOrDefault(jobId);

    public void Add(TrainingJobRecord job) => _jobs[job.JobId] = job;

    public void Remove(TrainingJobRecord job) => _jobs.TryRemove(new KeyValuePair<string, TrainingJobRecord>(job.JobId, job));
}
