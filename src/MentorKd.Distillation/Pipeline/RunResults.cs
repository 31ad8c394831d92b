using MentorKd.Distillation.Training;

namespace MentorKd.Distillation.Pipeline;

/// <summary>The numbers a run ends with, as written to results.json and report.md.</summary>
public sealed record RunResults
{
    public required string Name { get; init; }
    public required string Task { get; init; }
    public required string Teacher { get; init; }
    public required int TrainQuestions { get; init; }
    public required int DevQuestions { get; init; }
    public required int TestQuestions { get; init; }
    public required AnnotationSummary Annotation { get; init; }
    /// <summary>What the teacher's calls cost (null when the run's record predates usage accounting).</summary>
    public TeacherCallSummary? TeacherCalls { get; init; }
    /// <summary>The mentor's size, training and test accuracy; null for a run without one (FDD alone).</summary>
    public long? MentorParameters { get; init; }
    public required long StudentParameters { get; init; }
    public TrainingOutcome? Mentor { get; init; }
    public double? MentorTestAccuracy { get; init; }
    public required AugmentationSummary Augmentation { get; init; }
    public required IReadOnlyList<ArmResult> Arms { get; init; }
    public required double Seconds { get; init; }
}

/// <summary>Teacher annotation: questions asked, rationales written and kept (answer-correct).</summary>
public sealed record AnnotationSummary(int QuestionsAnnotated, int Rationales, int Kept, int QuestionsWithAKeptRationale)
{
    public static AnnotationSummary Of(IReadOnlyList<Data.Rationale> rationales) => new(
        rationales.Select(r => r.QuestionId).Distinct().Count(), rationales.Count, rationales.Count(r => r.Correct),
        rationales.Where(r => r.Correct).Select(r => r.QuestionId).Distinct().Count());

    public double KeptRate => Rationales == 0 ? 0 : (double)Kept / Rationales;
}

/// <summary>The teacher's calls: the prompt template (LLM teachers), requests paid and HTTP attempts made, the API's token
/// counts, calls answered from the ledger, replies kept as problems, calls failed after every retry, and the cost.</summary>
public sealed record TeacherCallSummary(string Prompt, long Requests, long Attempts, long PromptTokens, long CompletionTokens, long CacheHits,
    int Problems, int Failed, double Cost)
{
    public string Describe() =>
        $"{Requests} requests ({Attempts} HTTP attempts), {PromptTokens:N0} prompt + {CompletionTokens:N0} completion tokens, {CacheHits} answered from the ledger; " +
        $"{Problems} replies kept as problems, {Failed} calls failed after every retry; cost {Cost:0.####}" + (Prompt.Length > 0 ? $"; prompt template {Prompt}" : "");
}

/// <summary>Mentor augmentation: samples drawn for every training question, and how many were correct.</summary>
public sealed record AugmentationSummary(int Questions, int Samples, int Correct, int QuestionsCovered, int QuestionsNewlyCovered)
{
    public static AugmentationSummary Of(IReadOnlyList<Data.Question> train, IReadOnlyList<Data.Rationale> teacher, IReadOnlyList<Data.Rationale> mentor)
    {
        var teacherCovered = teacher.Where(r => r.Correct).Select(r => r.QuestionId).ToHashSet();
        var mentorCovered = mentor.Where(r => r.Correct).Select(r => r.QuestionId).ToHashSet();
        return new AugmentationSummary(train.Count, mentor.Count, mentor.Count(r => r.Correct), mentorCovered.Count, mentorCovered.Count(id => !teacherCovered.Contains(id)));
    }

    public double Yield => Samples == 0 ? 0 : (double)Correct / Samples;
}

/// <summary>One student arm: its data, its training and its accuracy (dev-selected, and best test epoch).</summary>
public sealed record ArmResult(string Arm, int Examples, TrainingOutcome Outcome, double TestAccuracy)
{
    public string Title => StudentArms.Title(Arm);
}
