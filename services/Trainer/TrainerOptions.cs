using System.ComponentModel.DataAnnotations;

namespace MentorKd.Trainer;

/// <summary>"Trainer" configuration section.</summary>
public sealed record TrainerOptions
{
    /// <summary>Local scratch space for the slice training now; the job's state lives in the object store.</summary>
    [Required] public string WorkRoot { get; init; } = Path.Combine(Path.GetTempPath(), "mentorkd-trainer");
    [Required] public string Device { get; init; } = "cpu";
    /// <summary>libtorch threads for this replica's training, shared among the jobs it trains at once (0: every core).</summary>
    [Range(0, 1024)] public int Threads { get; init; }
    /// <summary>Jobs this replica trains at once, each on a thread of its own with its share of <see cref="Threads"/>
    /// (re-shared at an epoch's end when a neighbour has started or ended). On a small machine two small models train faster side by side on one thread each
    /// than one after the other on two. A job's thread count then depends on its neighbours, so its numerics are not
    /// bit-reproducible from run to run; with 1 (the default) or <see cref="FixedThreadShare"/> they are.</summary>
    [Range(1, 64)] public int ConcurrentJobs { get; init; } = 1;
    /// <summary>Give every job <see cref="Threads"/> / <see cref="ConcurrentJobs"/> threads for its whole life instead of
    /// re-sharing them as neighbours start and end: a job's numerics then depend on its own request alone, so with several
    /// jobs at once results are still bit-reproducible (a run's arm the same whichever arms train beside it), at the cost
    /// of cores left idle while a job trains alone.</summary>
    public bool FixedThreadShare { get; init; }
    /// <summary>The most epochs a job may ask for (an operator's limit; beyond it StartJob is refused naming training.epochs).</summary>
    [Range(1, 1_000_000)] public int MaxEpochs { get; init; } = 1_000;
    /// <summary>Least time between two progress reports of a training step (epoch ends are always reported).</summary>
    [Range(0, 60_000)] public int ProgressIntervalMilliseconds { get; init; } = 250;
    /// <summary>How long a replica trains a job before handing it back to the queue (at the next epoch's end): bounds
    /// how long a message stays unacknowledged, and lets waiting jobs take turns. 0: one epoch per slice.</summary>
    [Range(0, 86_400)] public int SliceSeconds { get; init; } = 300;
    /// <summary>Deadline of one GetSoftLabels call to the mentor-server (tried three times before the job fails).</summary>
    [Range(1, 3_600)] public int SoftLabelCallSeconds { get; init; } = 60;
    /// <summary>Ask the mentor-server for the next batch's soft labels while the current step trains, so the student
    /// waits for it less: `make bench-softlabels` measured 83% of in-process throughput with it and 75% without, even with
    /// trainer and mentor-server sharing 2 cores (median of 3 rounds). Off: one call per step, made when the step needs it.</summary>
    public bool PrefetchSoftLabels { get; init; } = true;
    /// <summary>The mentor-servers this trainer sends the platform's service key (Auth:ServiceKey) to when a job names one
    /// (soft_labels.mentor_server_address). A job is a client's request, so an address not listed here is called without
    /// the key: the key never goes to a server a client chose.</summary>
    public string[] MentorServerAddresses { get; init; } = [];
    /// <summary>A job's lease length: how long after its replica dies another takes the job over.</summary>
    [Range(2, 3_600)] public int LeaseSeconds { get; init; } = 30;
}
