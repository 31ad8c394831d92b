using MentorKd.Contracts;
using MentorKd.Protos.V1;

namespace MentorKd.Augmentation.Runs;

/// <summary>A run as the Runs API shows it: the state machine's instance, or a run queued here whose first event has not reached the state machine yet.</summary>
public static class RunViews
{
    public static Run ToProto(this RunState state) => new()
    {
        RunId = state.CorrelationId.ToString("D"),
        Name = state.Name,
        Status = Status(state.CurrentState),
        ConfigKey = state.ConfigKey,
        SubmittedAtUnixMs = UnixMs(state.SubmittedAt),
        UpdatedAtUnixMs = UnixMs(state.UpdatedAt),
        FailedStage = state.FailedStage ?? "",
        Error = state.FailureReason ?? "",
        TeacherRationalesKey = state.TeacherRationalesKey ?? "",
        MentorCheckpointKey = state.MentorCheckpointKey ?? "",
        MentorRationalesKey = state.MentorRationalesKey ?? "",
        StudentCheckpointKeys = { state.StudentCheckpointKeys },
        ReportKey = state.ReportKey ?? "",
        RetrainingRounds = state.RetrainingRounds,
        SubmittedBy = state.SubmittedBy,
    };

    public static Run Submitted(RunSubmitted submitted) => new()
    {
        RunId = submitted.CorrelationId.ToString("D"), Name = submitted.Name, Status = RunStatus.Submitted, ConfigKey = submitted.ConfigKey,
        SubmittedAtUnixMs = UnixMs(submitted.SubmittedAt), UpdatedAtUnixMs = UnixMs(submitted.SubmittedAt), SubmittedBy = submitted.SubmittedBy,
    };

    /// <summary>The state machine's state names (<see cref="RunStateMachine"/>) as the contract's statuses.</summary>
    public static RunStatus Status(string state) => state switch
    {
        nameof(RunStateMachine.AnnotatingTeacher) => RunStatus.AnnotatingTeacher,
        nameof(RunStateMachine.TrainingMentor) => RunStatus.TrainingMentor,
        nameof(RunStateMachine.Augmenting) => RunStatus.Augmenting,
        nameof(RunStateMachine.TrainingStudents) => RunStatus.TrainingStudents,
        nameof(RunStateMachine.Evaluating) => RunStatus.Evaluating,
        nameof(RunStateMachine.Completed) => RunStatus.Completed,
        nameof(RunStateMachine.FailedState) => RunStatus.Failed,
        nameof(RunStateMachine.Cancelled) => RunStatus.Cancelled,
        nameof(RunStateMachine.AnnotatingRound) or nameof(RunStateMachine.AugmentingRound) or nameof(RunStateMachine.TrainingRound)
            or nameof(RunStateMachine.EvaluatingRound) => RunStatus.Retraining,
        _ => RunStatus.Submitted,
    };

    public static bool IsFinished(this RunStatus status) => status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled;

    private static long UnixMs(DateTime at) => at == default ? 0 : new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)).ToUnixTimeMilliseconds();
}
