using MentorKd.Distillation.Training;

namespace MentorKd.Distillation.Pipeline;

/// <summary>PNG learning curves of every job in a run: training loss and dev accuracy per epoch.</summary>
public static class LearningCurves
{
    public static void Write(RunFolder folder, IReadOnlyList<TrainingOutcome> jobs)
    {
        Plot(folder.LossCurves, "Training loss per epoch", "loss", jobs, r => r.TrainLoss);
        Plot(folder.AccuracyCurves, "Dev accuracy per epoch", "dev accuracy", jobs, r => r.DevAccuracy);
    }

    private static void Plot(string path, string title, string yLabel, IReadOnlyList<TrainingOutcome> jobs, Func<EpochRecord, double> value)
    {
        var plot = new ScottPlot.Plot();
        foreach (var job in jobs)
        {
            var line = plot.Add.Scatter(job.History.Select(h => (double)h.Epoch).ToArray(), job.History.Select(value).ToArray());
            line.LegendText = job.Job;
        }
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        plot.ShowLegend();
        plot.SavePng(path, 900, 520);
    }
}
