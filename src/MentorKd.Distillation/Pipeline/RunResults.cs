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
    public required long MentorParameters { get; init; }
    public required long StudentParameters { get; init; }
    public required TrainingOutcome Mentor { get; init; }
    public required double MentorTestAccuracy { get; init; }
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
