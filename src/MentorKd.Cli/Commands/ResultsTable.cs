using MentorKd.Distillation.Pipeline;
using Spectre.Console;

namespace MentorKd.Cli.Commands;

/// <summary>The end-of-run comparison in the terminal.</summary>
internal static class ResultsTable
{
    public static void Print(RunResults results)
    {
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
        var pipeline = new Table().Title($"{(results.Mentor is null ? "Run" : "Mentor-KD")} on {results.Task} — teacher: {results.Teacher}");
        pipeline.AddColumn("stage");
        pipeline.AddColumn("result");
        pipeline.AddRow("teacher kept rate", $"{results.Annotation.KeptRate:P1} ({results.Annotation.Kept}/{results.Annotation.Rationales})");
        if (results.TeacherCalls is { } calls) pipeline.AddRow("teacher calls", Markup.Escape(calls.Describe()));
        if (results.Mentor is null) pipeline.AddRow("mentor", "none (the student learns from the teacher only)");
        else
        {
            pipeline.AddRow($"mentor accuracy ({results.MentorParameters / 1e6:F2}M)", $"{results.MentorTestAccuracy:P1} test");
            pipeline.AddRow("augmentation yield", $"{results.Augmentation.Yield:P1} ({results.Augmentation.Correct}/{results.Augmentation.Samples}; {results.Augmentation.QuestionsNewlyCovered} questions newly covered)");
        }
        AnsiConsole.Write(pipeline);

        var students = new Table().Title($"Students ({results.StudentParameters / 1e6:F2}M parameters), test accuracy");
        foreach (var column in new[] { "student", "examples", "steps", "test (dev-selected)", "best test epoch" }) students.AddColumn(column);
        foreach (var arm in results.Arms)
            students.AddRow(arm.Title, arm.Examples.ToString(), arm.Outcome.Steps.ToString(), $"{arm.TestAccuracy:P1}",
                $"{arm.Outcome.BestTest.TestAccuracy:P1} (epoch {arm.Outcome.BestTest.Epoch})");
        AnsiConsole.Write(students);
    }
}
