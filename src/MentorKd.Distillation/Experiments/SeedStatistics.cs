namespace MentorKd.Distillation.Experiments;

/// <summary>
/// A figure over seeds: its mean, sample standard deviation and a 95% confidence interval for the mean (Student's t with
/// n−1 degrees of freedom: with 3 seeds the interval is ±2.48 standard deviations, which is what honest small-sample
/// claims cost). A single seed has no spread and no interval.
/// </summary>
public sealed record SeedStatistics(int N, double Mean, double StandardDeviation, double HalfWidth95)
{
    public double Low => Mean - HalfWidth95;
    public double High => Mean + HalfWidth95;

    public static SeedStatistics Of(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        int n = values.Count;
        double mean = values.Average();
        if (n == 1) return new(1, mean, 0, 0);
        double sd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (n - 1));
        return new(n, mean, sd, TwoSided95(n - 1) * sd / Math.Sqrt(n));
    }

    /// <summary>Student's t quantile at 0.975 for <paramref name="degrees"/> degrees of freedom (tabulated to 30, then
    /// the Cornish–Fisher expansion around the normal quantile to second order, within 0.0002 beyond).</summary>
    public static double TwoSided95(int degrees)
    {
        if (degrees < 1) throw new ArgumentOutOfRangeException(nameof(degrees));
        if (degrees <= 30) return Table[degrees - 1];
        const double z = 1.959964;
        double z3 = z * z * z, z5 = z3 * z * z, v = degrees;
        return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v);
    }

    private static readonly double[] Table =
    [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];

    /// <summary>"97.7 ± 1.2 (95% CI 94.6 to 100.8, n=3)" in points, from accuracies in [0, 1] (mean ± sample sd);
    /// <paramref name="signed"/> for differences: "+0.7 ± 0.6 (95% CI -0.8 to +2.2, n=3)".</summary>
    public string DescribePoints(bool signed = false)
    {
        string format = signed ? "+0.0;-0.0;0.0" : "0.0";
        string P(double value) => (100 * value).ToString(format, System.Globalization.CultureInfo.InvariantCulture);
        return N == 1
            ? $"{P(Mean)} (n=1)"
            : $"{P(Mean)} ± {(100 * StandardDeviation).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)} (95% CI {P(Low)} to {P(High)}, n={N})";
    }
}
