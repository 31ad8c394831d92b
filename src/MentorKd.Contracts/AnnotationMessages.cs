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
/// correct), or <c>Error</c> says why it failed. Calls that failed after every retry are listed (JSONL) at
/// <c>FailuresKey</c>, never replaced by empty rationales; <c>Usage</c> is what this annotation cost; <c>Prompt</c> is the LLM
/// teacher's prompt template (empty for offline teachers).</summary>
public sealed record QuestionsAnnotated(string AnnotationId, string OutputKey, int Questions, int Rationales, int Kept, string Teacher, string Error,
    int Failed = 0, string FailuresKey = "", TeacherUsageTotals? Usage = null, string Prompt = "");

/// <summary>What teacher work cost: paid requests and the HTTP attempts they took (retries included), the API's own
/// token counts (whitespace words for offline teachers), calls answered from the ledger instead of paid again, replies
/// kept as problems, calls that failed after every retry, and the cost from the teacher's price table.</summary>
public sealed record TeacherUsageTotals(long Requests, long Attempts, long Questions, long Rationales, long PromptTokens, long CompletionTokens,
    long CacheHits, long Problems, long Failures, double Cost)
{
    public static readonly TeacherUsageTotals None = new(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    public TeacherUsageTotals Add(TeacherUsageTotals other) => new(Requests + other.Requests, Attempts + other.Attempts, Questions + other.Questions,
        Rationales + other.Rationales, PromptTokens + other.PromptTokens, CompletionTokens + other.CompletionTokens, CacheHits + other.CacheHits,
        Problems + other.Problems, Failures + other.Failures, Cost + other.Cost);
}
