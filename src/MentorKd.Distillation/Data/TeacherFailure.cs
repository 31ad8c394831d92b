namespace MentorKd.Distillation.Data;

/// <summary>A teacher call that failed after every retry (rate limited, server errors, timeouts, malformed replies):
/// reported with its reason, and asked again by the next run or retried stage, since nothing was recorded for it.</summary>
public sealed record TeacherFailure(string QuestionId, int Sample, string Reason);
