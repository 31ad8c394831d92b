using MentorKd.Protos.V1;
using Spectre.Console;

namespace MentorKd.Cli.Commands;

/// <summary>An FDD run's rounds in the terminal: the student's split of the pool, the problems written, and FDD's
/// student beside the baseline's (the same spend on problems written without feedback).</summary>
internal static class FddRoundsTable
{
    public static void Print(RunReport report)
    {
        if (report.FddRounds.Count == 0) return;
        bool baseline = report.FddRounds.Any(f => f.BaselineTeacherRequests > 0);
        var table = new Table().Title("FDD rounds (test accuracy of each round's retrained student)");
        foreach (var column in new[] { "round", "easy / hard", "harder + similar accepted", "teacher requests", "FDD test" }) table.AddColumn(column);
        if (baseline) foreach (var column in new[] { "baseline problems", "baseline requests", "baseline test" }) table.AddColumn(column);
        foreach (var f in report.FddRounds)
        {
            var cells = new List<string> { f.Round.ToString(), $"{f.Easy} / {f.Hard}", $"{f.HarderAccepted} + {f.SimilarAccepted}", f.TeacherRequests.ToString(), $"{f.StudentTestAccuracy:P1}" };
            if (baseline) cells.AddRange([f.BaselineAccepted.ToString(), f.BaselineTeacherRequests.ToString(), $"{f.BaselineTestAccuracy:P1}"]);
            table.AddRow(cells.ToArray());
        }
        AnsiConsole.Write(table);
    }
}
