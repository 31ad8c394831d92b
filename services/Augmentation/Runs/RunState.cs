using MassTransit;

namespace MentorKd.Augmentation.Runs;

/// <summary>What the run state machine holds about one run: where it is, the work it waits for, and the keys each
/// stage produced (its lineage). What a stage produced is also recorded in the store (<see cref="RunStageRecords"/>),
/// which is how a run carries on after the process holding this instance restarts.</summary>
public sealed class RunState : SagaStateMachineInstance
{
    public Guid CorrelationId { get; set; }
    public string CurrentState { get; set; } = "";
    public string Name { get; set; } = "";
    public string ConfigKey { get; set; } = "";
    public DateTime SubmittedAt { get; set; }
    /// <summary>The client that started the run.</summary>
    public string SubmittedBy { get; set; } = "";
    public DateTime UpdatedAt { get; set; }

    /// <summary>The stage being worked on, as progress events and failures name it.</summary>
    public string Stage { get; set; } = "";
    /// <summary>Training jobs sent to the trainers' queue and not yet ended, by job name ("mentor", an arm, "round1-mentor_kd").</summary>
    public HashSet<string> PendingTraining { get; set; } = [];
    /// <summary>Checkpoints sent to the evaluators' queue and not yet evaluated, by job name.</summary>
    public HashSet<string> PendingEvaluations { get; set; } = [];
    /// <summary>What each training job learns from, for its stage record when it ends.</summary>
    public Dictionary<string, TrainingInputs> TrainingInputs { get; set; } = [];
    /// <summary>This attempt retries a failed or cancelled run: its training jobs that ended cancelled or failed are taken up again.</summary>
    public bool Retrying { get; set; }
    /// <summary>How the attempt ended, until its watchers are told (after the transition to the final state).</summary>
    public Protos.V1.RunStatus? EndStatus { get; set; }
    public string? EndMessage { get; set; }
    /// <summary>The retraining round under way, if any.</summary>
    public RoundWork? Round { get; set; }
    /// <summary>The FDD round being classified or written, if any (its retraining is then <see cref="Round"/>).</summary>
    public FddWork? Fdd { get; set; }
    /// <summary>Problem syntheses sent to the teacher-gateways' queue and not yet answered, by name ("fdd1-harder").</summary>
    public HashSet<string> PendingSyntheses { get; set; } = [];

    public string? TeacherRationalesKey { get; set; }
    public int TeacherRationales { get; set; }
    public int TeacherKept { get; set; }
    public string? MentorCheckpointKey { get; set; }
    public double MentorDevAccuracy { get; set; }
    public string? MentorRationalesKey { get; set; }
    public int MentorSamples { get; set; }
    public int MentorCorrect { get; set; }
    public List<string> StudentCheckpointKeys { get; set; } = [];
    public string? ReportKey { get; set; }
    public int RetrainingRounds { get; set; }
    public string? FailedStage { get; set; }
    public string? FailureReason { get; set; }
}

/// <summary>A training job's inputs: its rationales, where its soft labels come from (the mentor checkpoint, and how they
/// are served), and the checkpoint its weights start from (null: random).</summary>
public sealed record TrainingInputs(IReadOnlyList<string> RationaleKeys, string? SoftLabelsFrom, string? SoftLabelsVia, string? StartedFrom = null);

/// <summary>An FDD round as it goes: its pool, how the student split it, and what each synthesis accepted so far.</summary>
public sealed record FddWork(int Number, string PoolKey, int Pool, DateTime StartedAt, int Easy = 0, int Hard = 0, int HarderAccepted = 0, int SimilarAccepted = 0,
    int Rejected = 0, long TeacherRequests = 0, int BaselineAccepted = 0, long BaselineTeacherRequests = 0)
{
    public string Name => $"fdd{Number}";
}

/// <summary>A retraining round as it goes: its number, the request it answers, and what its stages produced so far.</summary>
public sealed record RoundWork(int Number, RoundRequest Request, string QuestionsKey, int QuestionsAdded, int TrainQuestions = 0, int TeacherKept = 0,
    int MentorCorrect = 0, long TeacherRequests = 0)
{
    public string Name => $"round{Number}";
}
