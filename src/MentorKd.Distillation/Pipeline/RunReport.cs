using System.Text;
using MentorKd.Distillation.Training;

namespace MentorKd.Distillation.Pipeline;

/// <summary>report.md: the comparison table and the facts a reader needs to trust it.</summary>
public static class RunReport
{
    public static string ComparisonMarkdown(RunResults results)
    {
        var text = new StringBuilder();
        text.AppendLine("| student | training examples | steps | test accuracy (dev-selected epoch) | best-test-epoch accuracy | dev-selected epoch |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var arm in results.Arms)
        {
            var selected = arm.Outcome.DevSelected;
            var bestTest = arm.Outcome.BestTest;
            text.AppendLine($"| {arm.Title} | {arm.Examples} | {arm.Outcome.Steps} | {arm.TestAccuracy:P1} | {bestTest.TestAccuracy:P1} (epoch {bestTest.Epoch}) | {selected.Epoch} |");
        }
        return text.ToString();
    }

    /// <summary>The matmul precision each job trained in, as resolved where it ran (what a config's "auto" chose).</summary>
    private static string Precision(RunResults results)
    {
        var jobs = results.Arms.Select(a => (a.Title, Dtype: a.Outcome.MatmulDtype)).Prepend((Title: "mentor", Dtype: results.Mentor?.MatmulDtype ?? ""))
            .Where(j => j.Dtype.Length > 0).ToList();
        if (jobs.Count == 0) return "";
        var byDtype = jobs.GroupBy(j => j.Dtype).Select(g => $"{g.Key} for {string.Join(", ", g.Select(j => j.Title))}");
        return $"Matmul precision (as chosen on the host that trained each model): {string.Join("; ", byDtype)}.";
    }

    public static void Write(ReportFolder folder, RunConfig config, RunResults results)
    {
        var a = results.Annotation;
        var g = results.Augmentation;
        var text = new StringBuilder();
        text.AppendLine($"# {(results.Mentor is null ? "Run" : "Mentor-KD run")}: {results.Name}");
        text.AppendLine();
        text.AppendLine($"Task **{results.Task}** ({config.Task.Source}); {results.TrainQuestions} train / {results.DevQuestions} dev / {results.TestQuestions} test questions; " +
                        $"teacher **{results.Teacher}**; {results.Seconds / 60:F1} minutes on {Environment.ProcessorCount} cores.");
        text.AppendLine();
        text.AppendLine("| stage | result |");
        text.AppendLine("|---|---|");
        text.AppendLine($"| teacher annotation | {a.Kept}/{a.Rationales} rationales kept ({a.KeptRate:P1}) for {a.QuestionsAnnotated} questions; {a.QuestionsWithAKeptRationale} questions have one |");
        if (results.TeacherCalls is { } calls) text.AppendLine($"| teacher calls | {calls.Describe()} |");
        if (results.Mentor is { } mentor)
        {
            text.AppendLine($"| mentor ({results.MentorParameters / 1e6:F2}M parameters) | test accuracy {results.MentorTestAccuracy:P1} (dev-selected epoch {mentor.DevSelected.Epoch}) |");
            text.AppendLine($"| mentor augmentation | {g.Correct}/{g.Samples} samples correct (yield {g.Yield:P1}); {g.QuestionsCovered} questions covered, {g.QuestionsNewlyCovered} of them without a teacher rationale |");
        }
        else text.AppendLine("| mentor | none (the student learns from the teacher's rationales only) |");
        text.AppendLine($"| students | {results.StudentParameters / 1e6:F2}M parameters each, same initial weights, hyper-parameters, epochs and seed |");
        text.AppendLine();
        text.AppendLine("## Students on the test set");
        text.AppendLine();
        text.Append(ComparisonMarkdown(results));
        text.AppendLine();
        text.AppendLine("Test accuracy is that of the epoch with the best dev accuracy (the honest figure). The best-test-epoch column " +
                        "follows the reference code's protocol (select on test) and is shown only for comparison with the paper.");
        var student = config.Student.Training;
        text.AppendLine();
        text.AppendLine($"Soft labels: {student.KdMode} at T={student.Temperature}, λ={student.Lambda}, mask {student.KdMask}; " +
                        $"students: {config.Student.Describe()}, lr {student.LearningRate}, batch {student.BatchSize}, {student.Epochs} epochs.");
        if (Precision(results) is { Length: > 0 } precision) text.AppendLine().AppendLine(precision);
        text.AppendLine();
        text.AppendLine("## Per-epoch history");
        text.AppendLine();
        text.AppendLine("| job | epoch | steps | train loss | hard CE | soft term | dev | test | seconds |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var record in results.Arms.Select(x => x.Outcome).Prepend(results.Mentor).OfType<TrainingOutcome>().SelectMany(o => o.History))
            text.AppendLine($"| {record.Job} | {record.Epoch} | {record.Steps} | {record.TrainLoss:F3} | {record.HardCrossEntropy:F3} | {(record.SoftTerm is { } s ? s.ToString("F3") : "—")} | {record.DevAccuracy:P1} | {record.TestAccuracy:P1} | {record.Seconds:F0} |");
        text.AppendLine();
        text.AppendLine("Learning curves: `learning-curves-loss.png`, `learning-curves-accuracy.png`. Per-example outputs: `evaluations/*.test.jsonl`.");
        File.WriteAllText(folder.Report, text.ToString());
    }
}
