using System.Collections.Concurrent;

namespace MentorKd.Trainer.Jobs;

/// <summary>The job slices training on this replica now, by job id: WatchJob and GetJob read them live, and a
/// cancellation reaches them at once (replicas elsewhere see the ledger's cancel marker on their next lease beat).</summary>
public sealed class RunningJobs
{
    private readonly ConcurrentDictionary<string, TrainingJobRecord> _jobs = new();

    public TrainingJobRecord? Find(string jobId) => _jobs.GetValueOrDefault(jobId);

    public void Add(TrainingJobRecord job) => _jobs[job.JobId] = job;

    public void Remove(TrainingJobRecord job) => _jobs.TryRemove(new KeyValuePair<string, TrainingJobRecord>(job.JobId, job));
}
