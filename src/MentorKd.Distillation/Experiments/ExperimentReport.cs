using System.Globalization;
using System.Text;
using System.Text.Json;
using MentorKd.Distillation.Pipeline;

namespace MentorKd.Distillation.Experiments;

/// <summary>An experiment's report: experiment.md (tables of mean ± spread and 95% intervals per setting and arm, the paired
/// differences from the reference arm, every run), experiment.json (the same, for tools) and accuracy.png.</summary>
public static class ExperimentReport
{
    public const string Markdown = "experiment.md", Json = "experiment.json", Plot = "accuracy.png";

    public static void Write(string folder, ExperimentSummary summary)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, Markdown), ToMarkdown(summary));
        File.WriteAllText(Path.Combine(folder, Json), JsonSerializer.Serialize(summary, RunConfig.Json));
        if (summary.Arms.Count > 0) File.WriteAllBytes(Path.Combine(folder, Plot), AccuracyPlot(summary));
    }

    public static string ToMarkdown(ExperimentSummary summary)
    {
        var text = new StringBuilder();
        int completed = summary.Runs.Count(r => r.Status == "completed");
        text.AppendLine($"# Experiment: {summary.Name}");
        text.AppendLine();
        text.AppendLine($"{summary.Runs.Count} runs ({completed} completed, {summary.Runs.Count(r => r.Reused)} of them reused from before), " +
                        $"seeds {string.Join(", ", summary.Runs.Select(r => r.Seed).Distinct())}; " +
                        (summary.GridFields.Count > 0 ? $"grid over {string.Join(" × ", summary.GridFields)}." : "no grid."));
        text.AppendLine();
        text.AppendLine("Test accuracy (%) at each run's dev-selected epoch: mean ± sample standard deviation over seeds, and the 95% " +
                        "confidence interval of the mean (Student's t). The difference column pairs each seed's run with the reference arm " +
                        $"(**{summary.ReferenceArm}**) of the same run, which removes the variance the arms share (same data, same mentor).");
        text.AppendLine();
        text.AppendLine($"| setting | arm | test accuracy | per seed | − {summary.ReferenceArm} (paired) |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var arm in summary.Arms)
            text.AppendLine($"| {arm.Setting} | {arm.Arm} | {arm.Accuracy.DescribePoints()} | {string.Join(" / ", arm.PerSeed.Select(a => (100 * a).ToString("F1", CultureInfo.InvariantCulture)))} | " +
                            $"{(arm.DifferenceFromReference is { } d ? d.DescribePoints(signed: true) : "")} |");
        if (summary.Mentors.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("| setting | mentor test accuracy |");
            text.AppendLine("|---|---|");
            foreach (var mentor in summary.Mentors) text.AppendLine($"| {mentor.Setting} | {mentor.Accuracy.DescribePoints()} |");
        }
        text.AppendLine();
        text.AppendLine("## Runs");
        text.AppendLine();
        text.AppendLine("| setting | seed | run | status | " + string.Join(" | ", summary.Arms.Select(a => a.Arm).Distinct()) + " |");
        text.AppendLine("|---|---|---|---|" + string.Concat(summary.Arms.Select(a => a.Arm).Distinct().Select(_ => "---|")));
        foreach (var run in summary.Runs)
            text.AppendLine($"| {run.Setting} | {run.Seed} | {run.RunId} | {run.Status}{(run.Reused ? " (reused)" : "")}{(run.Error.Length > 0 ? $": {run.Error}" : "")} | " +
                            string.Join(" | ", summary.Arms.Select(a => a.Arm).Distinct().Select(a => run.ArmTestAccuracy.TryGetValue(a, out var x) ? (100 * x).ToString("F1", CultureInfo.InvariantCulture) : "")) + " |");
        return text.ToString();
    }

    /// <summary>Accuracy against the first grid field (numeric values on a numeric axis; others in the grid's order), one line
    /// per arm and combination of the other fields, with the 95% interval as error bars.</summary>
    public static byte[] AccuracyPlot(ExperimentSummary summary)
    {
        var plot = new ScottPlot.Plot();
        var xField = summary.GridFields.FirstOrDefault();
        var xValues = xField is null ? ["default"] : summary.Arms.Select(a => a.Values[xField]).Distinct().ToList();
        bool numeric = xValues.All(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _));
        double X(ArmSummary a) => xField is null ? 0 : numeric ? double.Parse(a.Values[xField], CultureInfo.InvariantCulture) : xValues.IndexOf(a.Values[xField]);
        var palette = new ScottPlot.Palettes.Category10();
        int color = 0;
        foreach (var line in summary.Arms.GroupBy(a => (a.Arm, Others: string.Join(", ", a.Values.Where(v => v.Key != xField).Select(v => $"{v.Key[(v.Key.LastIndexOf('.') + 1)..]}={v.Value}")))))
        {
            var points = line.OrderBy(X).ToList();
            double[] xs = points.Select(X).ToArray(), ys = points.Select(p => 100 * p.Accuracy.Mean).ToArray();
            var scatter = plot.Add.Scatter(xs, ys, palette.GetColor(color));
            scatter.LegendText = line.Key.Others.Length > 0 ? $"{line.Key.Arm} ({line.Key.Others})" : line.Key.Arm;
            scatter.MarkerSize = 7;
            var bars = plot.Add.ErrorBar(xs, ys, points.Select(p => 100 * p.Accuracy.HalfWidth95).ToArray());
            bars.Color = palette.GetColor(color++);
        }
        if (!numeric || xField is null)
            plot.Axes.Bottom.SetTicks(Enumerable.Range(0, xValues.Count).Select(i => (double)i).ToArray(), xValues.ToArray());
        plot.Title($"{summary.Name}: test accuracy (mean over seeds, 95% CI)");
        plot.XLabel(xField ?? "");
        plot.YLabel("test accuracy (%)");
        plot.ShowLegend();
        return plot.GetImageBytes(900, 540, ScottPlot.ImageFormat.Png);
    }
}
