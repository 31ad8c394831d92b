namespace MentorKd.Contracts;

// Events of a distillation run, in the order a run goes through them. MassTransit routes by full type name,
// so this namespace and these names are part of the wire contract: add, never rename.
// Every event carries the run's id as its CorrelationId; stage payloads are object-store keys, never data.

/// <summary>A run was accepted: its config (JSON) is stored at <paramref name="ConfigKey"/>.</summary>
public sealed record RunSubmitted(Guid CorrelationId, string Name, string ConfigKey, DateTime SubmittedAt, string SubmittedBy = "");

/// <summary>The teacher's rationales for the run's questions are stored and filtered.</summary>
public sealed record TeacherAnnotationCompleted(Guid CorrelationId, string RationalesKey, int Rationales, int Kept);

/// <summary>The mentor finished fine-tuning; its best checkpoint is at <paramref name="CheckpointKey"/>.</summary>
public sealed record MentorTrainingCompleted(Guid CorrelationId, string CheckpointKey, double DevAccuracy);

/// <summary>The mentor's correct rationales for every training question are stored.</summary>
public sealed record AugmentationCompleted(Guid CorrelationId, string RationalesKey, int Samples, int Correct);

/// <summary>Every student arm finished training.</summary>
public sealed record StudentTrainingCompleted(Guid CorrelationId, IReadOnlyList<string> CheckpointKeys);

/// <summary>Every student was evaluated; the run's report is at <paramref name="ReportKey"/>.</summary>
public sealed record EvaluationCompleted(Guid CorrelationId, string ReportKey);

/// <summary>A stage failed; the run stops there.</summary>
public sealed record RunFailed(Guid CorrelationId, string Stage, string Reason);

/// <summary>A client asked to stop the run.</summary>
public sealed record RunCancellationRequested(Guid CorrelationId, string Reason);

/// <summary>New training questions for a run arrived (Runs API, CLI or a bucket upload): they start a retraining round.
/// <paramref name="Sha256"/> is the content's hash, so the same questions announced twice make one round.</summary>
public sealed record RunQuestionsAdded(Guid CorrelationId, string QuestionsKey, string Sha256, string Source);

/// <summary>A retraining round finished: the student retrained on everything so far was evaluated.</summary>
public sealed record RetrainingRoundCompleted(Guid CorrelationId, int Round, string QuestionsSha256, string CheckpointKey, double StudentTestAccuracy);
