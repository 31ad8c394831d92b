using MentorKd.Distillation.Training;

namespace MentorKd.Distillation.Pipeline;

/// <summary>PNG learning curves of a run's mentor and students, labelled by their titles: training loss and dev
/// accuracy at each epoch's end, against optimiser steps (arms of different lengths share the charts, and the
/// step-matched control reads right beside the arm it matches).</summary>
public static class LearningCurves
{
    public static void Write(ReportFolder folder, RunResults results)
    {
        var curves = results.Arms.Select(a => (a.Title, a.Outcome)).ToList();
        if (results.Mentor is { } mentor) curves.Insert(0, ("Mentor", mentor));
        Plot(folder.LossCurves, "Training loss", "training loss (epoch mean)", curves, r => r.TrainLoss);
        Plot(folder.AccuracyCurves, "Dev accuracy", "dev accuracy", curves, r => r.DevAccuracy);
    }

    private static void Plot(string path, string title, string yLabel, IReadOnlyList<(string Title, TrainingOutcome Outcome)> curves, Func<EpochRecord, double> value)
    {
        var plot = new ScottPlot.Plot();
        foreach (var (name, outcome) in curves)
        {
            var line = plot.Add.Scatter(outcome.History.Select(h => (double)h.Steps).ToArray(), outcome.History.Select(value).ToArray());
            line.LegendText = name;
        }
        plot.Title(title);
        plot.XLabel("optimiser steps");
        plot.YLabel(yLabel);
        plot.ShowLegend();
        plot.SavePng(path, 900, 520);
    }
}
