namespace MentorKd.Distillation.Pipeline;

/// <summary>PNG charts of an FDD run's rounds: the students' test accuracy per round, FDD beside its baseline; and the
/// FDD student's training set by problem difficulty per round (synthetic tasks know each problem's difficulty), where
/// feedback shows as the harder problems' share rising.</summary>
public static class FddPlots
{
    /// <summary>One round's point: round 0 is the student both arms start from. A missing accuracy is not drawn.</summary>
    public sealed record AccuracyPoint(int Round, double? Fdd, double? Baseline);

    public static byte[] AccuracyPerRound(IReadOnlyList<AccuracyPoint> points)
    {
        var plot = new ScottPlot.Plot();
        foreach (var (name, value) in new (string, Func<AccuracyPoint, double?>)[] { ("FDD", p => p.Fdd), ("baseline (no feedback, same spend)", p => p.Baseline) })
        {
            var drawn = points.Where(p => value(p) is not null).ToList();
            if (drawn.Count == 0) continue;
            var line = plot.Add.Scatter(drawn.Select(p => (double)p.Round).ToArray(), drawn.Select(p => 100 * value(p)!.Value).ToArray());
            line.LegendText = name;
            line.MarkerSize = 8;
        }
        plot.Title("Student test accuracy per FDD round");
        plot.XLabel("FDD round (0: before feedback)");
        plot.YLabel("test accuracy (%)");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
        plot.ShowLegend();
        return plot.GetImageBytes(800, 480, ScottPlot.ImageFormat.Png);
    }

    /// <summary>Stacked bars: per round, how many problems the FDD student learned from at each difficulty (the teacher's
    /// rationales for them, answer-filtered, are its training examples).</summary>
    public static byte[] TrainingSetByDifficulty(IReadOnlyList<(int Round, IReadOnlyDictionary<int, int> ByDifficulty)> rounds)
    {
        var plot = new ScottPlot.Plot();
        var difficulties = rounds.SelectMany(r => r.ByDifficulty.Keys).Distinct().Order().ToList();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<ScottPlot.Bar>();
        foreach (var (round, counts) in rounds)
        {
            double below = 0;
            for (int i = 0; i < difficulties.Count; i++)
            {
                int count = counts.GetValueOrDefault(difficulties[i]);
                bars.Add(new ScottPlot.Bar { Position = round, ValueBase = below, Value = below + count, FillColor = palette.GetColor(i) });
                below += count;
            }
        }
        plot.Add.Bars(bars);
        for (int i = 0; i < difficulties.Count; i++)
            plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = $"difficulty {difficulties[i]}", FillColor = palette.GetColor(i) });
        plot.Title("FDD student's training problems by difficulty");
        plot.XLabel("FDD round (0: the seed problems the teacher annotated)");
        plot.YLabel("training problems");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
        plot.Axes.Margins(bottom: 0, top: 0.25);
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        return plot.GetImageBytes(800, 480, ScottPlot.ImageFormat.Png);
    }
}
