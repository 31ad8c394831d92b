using MassTransit;
using MentorKd.Contracts;

namespace MentorKd.Augmentation.Runs;

/// <summary>
/// The whole Mentor-KD run as one state machine: teacher annotation → mentor training → mentor loaded →
/// augmentation → student training → evaluation → completed, or failed / cancelled from any active state; a completed
/// run goes to retraining while a round on newly added questions is under way.
/// Delivery is at least once, so an event that arrives again after its stage has passed is ignored rather than
/// faulted: handling a message twice changes nothing.
/// </summary>
public sealed class RunStateMachine : MassTransitStateMachine<RunState>
{
    public RunStateMachine()
    {
        InstanceState(x => x.CurrentState);
        Event(() => Submitted, x => x.CorrelateById(c => c.Message.CorrelationId));
        Event(() => TeacherAnnotated, x => x.CorrelateById(c => c.Message.CorrelationId));
        Event(() => MentorTrained, x => x.CorrelateById(c => c.Message.CorrelationId));
        Event(() => MentorLoaded, x => x.CorrelateById(c => c.Message.CorrelationId));
        Event(() => Augmented, x => x.CorrelateById(c => c.Message.CorrelationId));
        Event(() => StudentsTrained, x => x.CorrelateById(c => c.Message.CorrelationId));
        Event(() => Evaluated, x => x.CorrelateById(c => c.Message.CorrelationId));
        Event(() => Failed, x => x.CorrelateById(c => c.Message.CorrelationId));
        Event(() => CancellationRequested, x => x.CorrelateById(c => c.Message.CorrelationId));
        Event(() => QuestionsAdded, x => x.CorrelateById(c => c.Message.CorrelationId));
        Event(() => RoundCompleted, x => x.CorrelateById(c => c.Message.CorrelationId));

        Initially(
            When(Submitted)
                .Then(c =>
                {
                    c.Saga.Name = c.Message.Name;
                    c.Saga.ConfigKey = c.Message.ConfigKey;
                    c.Saga.SubmittedAt = c.Message.SubmittedAt;
                })
                .TransitionTo(AnnotatingTeacher));

        During(AnnotatingTeacher,
            When(TeacherAnnotated)
                .Then(c => (c.Saga.TeacherRationalesKey, c.Saga.TeacherRationales, c.Saga.TeacherKept) = (c.Message.RationalesKey, c.Message.Rationales, c.Message.Kept))
                .TransitionTo(TrainingMentor));
        During(TrainingMentor,
            When(MentorTrained)
                .Then(c => (c.Saga.MentorCheckpointKey, c.Saga.MentorDevAccuracy) = (c.Message.CheckpointKey, c.Message.DevAccuracy))
                .TransitionTo(LoadingMentor));
        During(LoadingMentor,
            When(MentorLoaded).TransitionTo(Augmenting));
        During(Augmenting,
            When(Augmented)
                .Then(c => (c.Saga.MentorRationalesKey, c.Saga.MentorSamples, c.Saga.MentorCorrect) = (c.Message.RationalesKey, c.Message.Samples, c.Message.Correct))
                .TransitionTo(TrainingStudents));
        During(TrainingStudents,
            When(StudentsTrained)
                .Then(c => c.Saga.StudentCheckpointKeys = [.. c.Message.CheckpointKeys])
                .TransitionTo(Evaluating));
        During(Evaluating,
            When(Evaluated)
                .Then(c => c.Saga.ReportKey = c.Message.ReportKey)
                .TransitionTo(Completed));

        During(new[] { AnnotatingTeacher, TrainingMentor, LoadingMentor, Augmenting, TrainingStudents, Evaluating },
            When(Failed)
                .Then(c => (c.Saga.FailedStage, c.Saga.FailureReason) = (c.Message.Stage, c.Message.Reason))
                .TransitionTo(FailedState),
            When(CancellationRequested)
                .Then(c => c.Saga.FailureReason = c.Message.Reason)
                .TransitionTo(Cancelled));

        // After completion, new questions start retraining rounds; the run is completed again after each one.
        During(Completed,
            When(QuestionsAdded).TransitionTo(Retraining),
            // Questions added while the run still worked are done right after it, with no QuestionsAdded seen here.
            When(RoundCompleted).Then(c => c.Saga.RetrainingRounds = Math.Max(c.Saga.RetrainingRounds, c.Message.Round)));
        During(Retraining,
            When(RoundCompleted)
                .Then(c => c.Saga.RetrainingRounds = Math.Max(c.Saga.RetrainingRounds, c.Message.Round))
                .TransitionTo(Completed),
            When(Failed)
                .Then(c => (c.Saga.FailedStage, c.Saga.FailureReason) = (c.Message.Stage, c.Message.Reason))
                .TransitionTo(Completed));

        // Submitting a failed or cancelled run again retries it; its finished stages are kept.
        During(new[] { FailedState, Cancelled },
            When(Submitted)
                .Then(c => (c.Saga.FailedStage, c.Saga.FailureReason) = (null, null))
                .TransitionTo(AnnotatingTeacher));

        OnUnhandledEvent(x => x.Ignore());
        WhenEnterAny(x => x.Then(c => c.Saga.UpdatedAt = DateTime.UtcNow));
    }

    public State AnnotatingTeacher { get; private set; } = null!;
    public State TrainingMentor { get; private set; } = null!;
    public State LoadingMentor { get; private set; } = null!;
    public State Augmenting { get; private set; } = null!;
    public State TrainingStudents { get; private set; } = null!;
    public State Evaluating { get; private set; } = null!;
    public State Completed { get; private set; } = null!;
    public State FailedState { get; private set; } = null!;
    public State Cancelled { get; private set; } = null!;
    public State Retraining { get; private set; } = null!;

    public Event<RunSubmitted> Submitted { get; private set; } = null!;
    public Event<TeacherAnnotationCompleted> TeacherAnnotated { get; private set; } = null!;
    public Event<MentorTrainingCompleted> MentorTrained { get; private set; } = null!;
    public Event<Contracts.MentorLoaded> MentorLoaded { get; private set; } = null!;
    public Event<AugmentationCompleted> Augmented { get; private set; } = null!;
    public Event<StudentTrainingCompleted> StudentsTrained { get; private set; } = null!;
    public Event<EvaluationCompleted> Evaluated { get; private set; } = null!;
    public Event<RunFailed> Failed { get; private set; } = null!;
    public Event<RunCancellationRequested> CancellationRequested { get; private set; } = null!;
    public Event<RunQuestionsAdded> QuestionsAdded { get; private set; } = null!;
    public Event<RetrainingRoundCompleted> RoundCompleted { get; private set; } = null!;
}
