using System.Diagnostics;

namespace MentorKd.Benchmarks;

/// <summary>Warm up, then repeat an action until a time budget is spent; report units per second.</summary>
internal static class Measure
{
    public static double UnitsPerSecond(Func<long> action, int warmups = 2, double seconds = 3.0, int minimumRuns = 3) =>
        PerSecondAndPerRun(action, warmups, seconds, minimumRuns).UnitsPerSecond;

    /// <summary>Units per second and the mean seconds one call of <paramref name="action"/> took.</summary>
    public static (double UnitsPerSecond, double SecondsPerRun) PerSecondAndPerRun(Func<long> action, int warmups = 2, double seconds = 3.0, int minimumRuns = 3)
    {
        for (int i = 0; i < warmups; i++) action();
        var clock = Stopwatch.StartNew();
        long units = 0;
        int runs = 0;
        while (runs < minimumRuns || clock.Elapsed.TotalSeconds < seconds)
        {
            units += action();
            runs++;
        }
        return (units / clock.Elapsed.TotalSeconds, clock.Elapsed.TotalSeconds / runs);
    }

    public static double Median(IReadOnlyCollection<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
