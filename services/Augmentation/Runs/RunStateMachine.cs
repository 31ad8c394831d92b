using MassTransit;
using MentorKd.Contracts;

namespace MentorKd.Augmentation.Runs;

/// <summary>
/// A Mentor-KD run, from submission to its report and on through retraining rounds. Each state is a wait for other
/// services' work: entering it sends the commands (teacher-gateway, trainer, augmentation, evaluator queues), and the
/// services' answers move the run on. The work itself is in <see cref="RunSteps"/>.
///
///   submitted → AnnotatingTeacher → TrainingMentor → Augmenting → TrainingStudents → Evaluating → (report) → Completed
///     (method fdd has no mentor: AnnotatingTeacher → TrainingStudents, and its rounds skip AugmentingRound)
///   Completed + new questions → AnnotatingRound → AugmentingRound → TrainingRound → EvaluatingRound → Completed
///   FDD (methods mentor_kd+fdd and fdd), after the report and after each round, until its rounds are done or a stopping rule holds:
///     ClassifyingPool (the student answers the pool) → SynthesizingRound (harder problems from easy ones, similar from
///     hard ones) → AnnotatingRound → … → EvaluatingRound → ClassifyingPool …
///   any active state → Failed (a stage's work failed) or Cancelled (a client asked); submitting again retries.
///
/// Delivery is at least once: an answer that arrives again, late, or for another run's work is ignored. A run whose
/// instance was lost (the process restarted) is submitted again and goes through its states once more; the services
/// answer work they have already done from their records, so it catches up in seconds and carries on where it was.
/// </summary>
public sealed class RunStateMachine : MassTransitStateMachine<RunState>
{
    private readonly RunSteps _steps;

    public RunStateMachine(RunSteps steps)
    {
        _steps = steps;
        InstanceState(x => x.CurrentState);
        Event(() => Submitted, x => x.CorrelateById(c => c.Message.CorrelationId));
        Event(() => QuestionsAdded, x => x.CorrelateById(c => c.Message.CorrelationId));
        Event(() => CancellationRequested, x => { x.CorrelateById(c => c.Message.CorrelationId); x.OnMissingInstance(m => m.Discard()); });
        // The services name the work by id; a run's work ids start with the run's id. Work that is no run's is not for us.
        Event(() => AnnotationProgressed, x => ByWorkId(x, c => c.Message.AnnotationId));
        Event(() => Annotated, x => ByWorkId(x, c => c.Message.AnnotationId));
        Event(() => AnnotationFaulted, x => ByWorkId(x, c => c.Message.Message.AnnotationId));
        Event(() => TrainingProgressed, x => ByWorkId(x, c => c.Message.JobId));
        Event(() => TrainingEnded, x => ByWorkId(x, c => c.Message.JobId));
        Event(() => TrainingFaulted, x => ByWorkId(x, c => c.Message.Message.JobId));
        Event(() => AugmentationProgressed, x => ByWorkId(x, c => c.Message.AugmentationId));
        Event(() => Augmented, x => ByWorkId(x, c => c.Message.AugmentationId));
        Event(() => AugmentationFaulted, x => ByWorkId(x, c => c.Message.Message.AugmentationId));
        Event(() => Evaluated, x => ByWorkId(x, c => c.Message.EvaluationId));
        Event(() => EvaluationFaulted, x => ByWorkId(x, c => c.Message.Message.EvaluationId));
        Event(() => Synthesized, x => ByWorkId(x, c => c.Message.SynthesisId));
        Event(() => SynthesisFaulted, x => ByWorkId(x, c => c.Message.Message.SynthesisId));

        Initially(
            When(Submitted)
                .Then(c => (c.Saga.Name, c.Saga.ConfigKey, c.Saga.SubmittedAt, c.Saga.SubmittedBy) = (c.Message.Name, c.Message.ConfigKey, c.Message.SubmittedAt, c.Message.SubmittedBy))
                .ThenAsync(steps.StartAsync)
                .TransitionTo(AnnotatingTeacher)
                .Catch<Exception>(RunFails),
            // Questions for a run no instance holds (it ended before this process started): the run goes through its
            // states again, catching up from the records, and takes up the round once completed.
            When(QuestionsAdded)
                .IfElseAsync(steps.AcceptQuestionsAsync,
                    known => known
                        .ThenAsync(steps.StartAsync)
                        .TransitionTo(AnnotatingTeacher)
                        .Catch<Exception>(RunFails),
                    unknown => unknown.Finalize()));

        // Teacher annotation (teacher-gateway); then the tokenizer, and the mentor's training job (FDD alone has no
        // mentor: its student trains on the teacher's rationales at once).
        During(AnnotatingTeacher,
            When(AnnotationProgressed).Then(steps.AnnotationProgressed),
            When(Annotated, c => c.Message.AnnotationId == RunSteps.Keys(c.Saga).AnnotationId("teacher"))
                .ThenAsync(steps.TeacherAnnotatedAsync)
                .IfElseAsync(steps.TrainsMentorAsync,
                    mentor => mentor.ThenAsync(steps.SendMentorAsync).TransitionTo(TrainingMentor),
                    none => none.ThenAsync(steps.SkipAugmentationAsync).ThenAsync(steps.SendStudentsAsync).TransitionTo(TrainingStudents))
                .Catch<Exception>(RunFails),
            When(AnnotationFaulted)
                .Then(c => RunSteps.Faulted(c, "teacher annotation"))
                .Catch<Exception>(RunFails));

        // The mentor trains (trainer); then it samples rationales for every question (augmentation), unless the config asks for none.
        During(TrainingMentor,
            When(TrainingProgressed).Then(steps.TrainingProgressed),
            When(TrainingEnded, c => c.Message.JobId == RunSteps.Keys(c.Saga).TrainingJobId(RunSteps.MentorJob))
                .ThenAsync(steps.MentorTrainedAsync)
                .IfElseAsync(steps.AugmentsAsync,
                    augment => augment.ThenAsync(steps.SendAugmentationAsync).TransitionTo(Augmenting),
                    none => none.ThenAsync(steps.SkipAugmentationAsync).ThenAsync(steps.SendStudentsAsync).TransitionTo(TrainingStudents))
                .Catch<Exception>(RunFails),
            When(TrainingFaulted)
                .Then(c => RunSteps.Faulted(c, "mentor training"))
                .Catch<Exception>(RunFails));

        // Every student arm trains at once (trainer replicas share them).
        During(Augmenting,
            When(AugmentationProgressed).Then(steps.AugmentationProgressed),
            When(Augmented, c => c.Message.AugmentationId == RunSteps.Keys(c.Saga).AugmentationId("mentor"))
                .ThenAsync(steps.MentorAugmentedAsync)
                .ThenAsync(steps.SendStudentsAsync)
                .TransitionTo(TrainingStudents)
                .Catch<Exception>(RunFails),
            When(AugmentationFaulted)
                .Then(c => RunSteps.Faulted(c, "mentor augmentation"))
                .Catch<Exception>(RunFails));

        // When the last arm ends, the mentor and every student are evaluated at once (evaluator replicas share them).
        During(TrainingStudents,
            When(TrainingProgressed).Then(steps.TrainingProgressed),
            When(TrainingEnded, c => c.Saga.PendingTraining.Contains(RunSteps.Keys(c.Saga).JobName(c.Message.JobId)))
                .ThenAsync(steps.StudentTrainedAsync)
                .If(c => c.Saga.PendingTraining.Count == 0, last => last
                    .ThenAsync(steps.SendEvaluationsAsync)
                    .TransitionTo(Evaluating))
                .Catch<Exception>(RunFails),
            When(TrainingFaulted)
                .Then(c => RunSteps.Faulted(c, "student training"))
                .Catch<Exception>(RunFails));

        // When the last evaluation is in: the report, then any retraining round asked for meanwhile.
        During(Evaluating,
            When(Evaluated, c => c.Saga.PendingEvaluations.Contains(RunSteps.Keys(c.Saga).JobName(c.Message.EvaluationId, "evaluation-")))
                .ThenAsync(steps.CheckpointEvaluatedAsync)
                .If(c => c.Saga.PendingEvaluations.Count == 0, last => NextRoundOrComplete(last
                    .ThenAsync(steps.ReportAsync)
                    .ThenAsync(steps.StartNextRoundAsync)))
                .Catch<Exception>(RunFails),
            When(EvaluationFaulted)
                .Then(c => RunSteps.Faulted(c, "evaluation"))
                .Catch<Exception>(RunFails));

        // New questions: recorded whatever the run is doing; a completed run takes them up at once, any other when it completes.
        DuringAny(
            When(QuestionsAdded, c => c.Saga.CurrentState != nameof(Completed))
                .ThenAsync(async c => await steps.AcceptQuestionsAsync(c)));
        During(Completed,
            When(QuestionsAdded)
                .IfAsync(steps.AcceptQuestionsAsync, accepted => accepted
                    .ThenAsync(steps.StartNextRoundAsync)
                    .IfElse(c => c.Saga.Round is not null,
                        round => round.TransitionTo(AnnotatingRound),
                        other => other.IfElse(c => c.Saga.Fdd is not null,
                            fdd => fdd.TransitionTo(ClassifyingPool),
                            none => none.ThenAsync(steps.SettleAsync))))
                .Catch<Exception>(RoundFails));

        // An FDD round's feedback: the student answers the pool (evaluator), then the teacher-gateways write harder
        // problems from the easy ones and similar problems for the hard ones; the accepted ones make a retraining round.
        During(ClassifyingPool,
            When(Evaluated, c => c.Saga.PendingEvaluations.Contains(RunSteps.Keys(c.Saga).JobName(c.Message.EvaluationId, "evaluation-")))
                .ThenAsync(steps.PoolClassifiedAsync)
                .IfElse(c => c.Saga.PendingSyntheses.Count > 0,
                    synthesizing => synthesizing.TransitionTo(SynthesizingRound),
                    nothing => NextRoundOrComplete(nothing))
                .Catch<Exception>(RoundFails),
            When(EvaluationFaulted)
                .Then(c => RunSteps.Faulted(c, "classifying the FDD pool"))
                .Catch<Exception>(RoundFails));
        During(SynthesizingRound,
            When(Synthesized, c => c.Saga.PendingSyntheses.Contains(RunSteps.Keys(c.Saga).JobName(c.Message.SynthesisId, "synthesis-")))
                .ThenAsync(steps.ProblemsSynthesizedAsync)
                .If(c => c.Saga.PendingSyntheses.Count == 0, last => NextRoundOrComplete(last))
                .Catch<Exception>(RoundFails),
            When(SynthesisFaulted)
                .Then(c => RunSteps.Faulted(c, "problem synthesis"))
                .Catch<Exception>(RoundFails));

        // A retraining round: the teacher annotates the new questions, the mentor (if the run has one) augments them, the
        // run's student trains again on everything so far and is evaluated; then the next round, or completed again.
        During(AnnotatingRound,
            When(AnnotationProgressed).Then(steps.AnnotationProgressed),
            When(Annotated, c => c.Message.AnnotationId == RunSteps.Keys(c.Saga).AnnotationId(c.Saga.Round!.Name))
                .ThenAsync(steps.RoundAnnotatedAsync)
                .IfElseAsync(steps.TrainsMentorAsync,
                    mentor => mentor.ThenAsync(steps.SendRoundAugmentationAsync).TransitionTo(AugmentingRound),
                    none => none.ThenAsync(steps.SkipRoundAugmentationAsync).TransitionTo(TrainingRound))
                .Catch<Exception>(RoundFails),
            When(AnnotationFaulted)
                .Then(c => RunSteps.Faulted(c, "teacher annotation"))
                .Catch<Exception>(RoundFails));
        During(AugmentingRound,
            When(AugmentationProgressed).Then(steps.AugmentationProgressed),
            When(Augmented, c => c.Message.AugmentationId == RunSteps.Keys(c.Saga).AugmentationId(c.Saga.Round!.Name))
                .ThenAsync(steps.RoundAugmentedAsync)
                .TransitionTo(TrainingRound)
                .Catch<Exception>(RoundFails),
            When(AugmentationFaulted)
                .Then(c => RunSteps.Faulted(c, "mentor augmentation"))
                .Catch<Exception>(RoundFails));
        During(TrainingRound,
            When(TrainingProgressed).Then(steps.TrainingProgressed),
            When(TrainingEnded, c => c.Saga.PendingTraining.Contains(RunSteps.Keys(c.Saga).JobName(c.Message.JobId)))
                .ThenAsync(steps.RoundTrainedAsync)
                .TransitionTo(EvaluatingRound)
                .Catch<Exception>(RoundFails),
            When(TrainingFaulted)
                .Then(c => RunSteps.Faulted(c, "student training"))
                .Catch<Exception>(RoundFails));
        During(EvaluatingRound,
            NextRoundOrComplete(When(Evaluated, c => c.Saga.PendingEvaluations.Contains(RunSteps.Keys(c.Saga).JobName(c.Message.EvaluationId, "evaluation-")))
                    .ThenAsync(steps.RoundEvaluatedAsync)
                    .ThenAsync(steps.StartNextRoundAsync))
                .Catch<Exception>(RoundFails),
            When(EvaluationFaulted)
                .Then(c => RunSteps.Faulted(c, "evaluation"))
                .Catch<Exception>(RoundFails));

        // A client's cancellation stops the run and the training jobs it waits for.
        During(new[] { AnnotatingTeacher, TrainingMentor, Augmenting, TrainingStudents, Evaluating, AnnotatingRound, AugmentingRound, TrainingRound, EvaluatingRound,
                ClassifyingPool, SynthesizingRound },
            When(CancellationRequested)
                .ThenAsync(steps.CancelAsync)
                .TransitionTo(Cancelled)
                .Then(c => steps.AnnounceEnd(c.Saga)));

        // Submitting a failed or cancelled run again retries it; its finished stages are answered from their records,
        // and its training jobs that were cancelled or failed are taken up again from their last checkpoints.
        During(new[] { FailedState, Cancelled },
            When(Submitted)
                .Then(c => c.Saga.Retrying = true)
                .ThenAsync(steps.StartAsync)
                .TransitionTo(AnnotatingTeacher)
                .Catch<Exception>(RunFails));

        OnUnhandledEvent(x => x.Ignore());
        WhenEnterAny(x => x.Then(c => c.Saga.UpdatedAt = DateTime.UtcNow));
        SetCompletedWhenFinalized();
    }

    /// <summary>After a round is started (or none could be): its teacher annotation, an FDD round's feedback, or the end.</summary>
    private EventActivityBinder<RunState, T> NextRoundOrComplete<T>(EventActivityBinder<RunState, T> binder) where T : class =>
        binder.IfElse(c => c.Saga.Round is not null,
            round => round.TransitionTo(AnnotatingRound),
            other => other.IfElse(c => c.Saga.Fdd is not null,
                fdd => fdd.TransitionTo(ClassifyingPool),
                none => none.ThenAsync(_steps.CompleteAsync).TransitionTo(Completed).Then(c => _steps.AnnounceEnd(c.Saga))));

    /// <summary>A step that throws fails the run, naming the stage it was in.</summary>
    private ExceptionActivityBinder<RunState, T, Exception> RunFails<T>(ExceptionActivityBinder<RunState, T, Exception> failure) where T : class =>
        failure.ThenAsync(c => _steps.FailAsync(c, c.Exception)).TransitionTo(FailedState).Then(c => _steps.AnnounceEnd(c.Saga));

    /// <summary>A retraining round that fails leaves the run completed, with the failure recorded.</summary>
    private ExceptionActivityBinder<RunState, T, Exception> RoundFails<T>(ExceptionActivityBinder<RunState, T, Exception> failure) where T : class =>
        failure.ThenAsync(c => _steps.RoundFailedAsync(c, c.Exception)).TransitionTo(Completed).Then(c => _steps.AnnounceEnd(c.Saga));

    private static void ByWorkId<T>(IEventCorrelationConfigurator<RunState, T> x, Func<ConsumeContext<T>, string> workId) where T : class
    {
        x.CorrelateById(c => RunKeys.RunOf(workId(c)));
        x.OnMissingInstance(m => m.Discard());
    }

    public State AnnotatingTeacher { get; private set; } = null!;
    public State TrainingMentor { get; private set; } = null!;
    public State Augmenting { get; private set; } = null!;
    public State TrainingStudents { get; private set; } = null!;
    public State Evaluating { get; private set; } = null!;
    public State Completed { get; private set; } = null!;
    public State FailedState { get; private set; } = null!;
    public State Cancelled { get; private set; } = null!;
    public State AnnotatingRound { get; private set; } = null!;
    public State AugmentingRound { get; private set; } = null!;
    public State TrainingRound { get; private set; } = null!;
    public State EvaluatingRound { get; private set; } = null!;
    public State ClassifyingPool { get; private set; } = null!;
    public State SynthesizingRound { get; private set; } = null!;

    public Event<RunSubmitted> Submitted { get; private set; } = null!;
    public Event<RunQuestionsAdded> QuestionsAdded { get; private set; } = null!;
    public Event<RunCancellationRequested> CancellationRequested { get; private set; } = null!;
    public Event<QuestionsAnnotationProgressed> AnnotationProgressed { get; private set; } = null!;
    public Event<QuestionsAnnotated> Annotated { get; private set; } = null!;
    public Event<Fault<AnnotateQuestions>> AnnotationFaulted { get; private set; } = null!;
    public Event<TrainingJobProgressed> TrainingProgressed { get; private set; } = null!;
    public Event<TrainingJobEnded> TrainingEnded { get; private set; } = null!;
    public Event<Fault<TrainModel>> TrainingFaulted { get; private set; } = null!;
    public Event<QuestionsAugmentationProgressed> AugmentationProgressed { get; private set; } = null!;
    public Event<QuestionsAugmented> Augmented { get; private set; } = null!;
    public Event<Fault<AugmentQuestions>> AugmentationFaulted { get; private set; } = null!;
    public Event<CheckpointEvaluated> Evaluated { get; private set; } = null!;
    public Event<Fault<EvaluateCheckpoint>> EvaluationFaulted { get; private set; } = null!;
    public Event<ProblemsSynthesized> Synthesized { get; private set; } = null!;
    public Event<Fault<SynthesizeProblems>> SynthesisFaulted { get; private set; } = null!;
}
