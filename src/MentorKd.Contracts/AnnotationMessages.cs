namespace MentorKd.Contracts;

// Teacher annotation on the broker: questions and rationales travel as object-store keys, never inline.

/// <summary>Annotate the stored questions (JSONL) with the teacher-gateway's teacher: <c>RationalesPerQuestion</c>
/// judged rationales each, written whole as JSONL to <c>OutputKey</c>. Sent to the gateways' shared queue; the outcome
/// is published as <see cref="QuestionsAnnotated"/> under the same <c>AnnotationId</c>.</summary>
/// <param name="Teacher">One of the gateways' named teachers; empty: their default.</param>
public sealed record AnnotateQuestions(string AnnotationId, string QuestionsKey, int RationalesPerQuestion, string OutputKey, string Teacher = "")
{
    public const string Queue = "annotate-questions";
}

/// <summary>How far an annotation has come (a few per second at most).</summary>
public sealed record QuestionsAnnotationProgressed(string AnnotationId, int QuestionsDone, int Questions, int Rationales, int Kept);

/// <summary>An annotation finished: its rationales are stored at <c>OutputKey</c> (every one judged, <c>Kept</c> of them
/// correct), or <c>Error</c> says why it failed.</summary>
public sealed record QuestionsAnnotated(string AnnotationId, string OutputKey, int Questions, int Rationales, int Kept, string Teacher, string Error);
