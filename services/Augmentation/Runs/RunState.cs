using MassTransit;

namespace MentorKd.Augmentation.Runs;

/// <summary>What the run state machine remembers about one run: where it is, and the keys each stage produced (its lineage).</summary>
public sealed class RunState : SagaStateMachineInstance
{
    public Guid CorrelationId { get; set; }
    public string CurrentState { get; set; } = "";
    public string Name { get; set; } = "";
    public string ConfigKey { get; set; } = "";
    public DateTime SubmittedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
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
