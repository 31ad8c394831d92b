namespace MentorKd.Modeling.Training;

/// <summary>Linear warm-up to the peak rate, then cosine decay to <see cref="MinimumRatio"/> of it (nanoGPT's schedule).</summary>
public sealed record LearningRateSchedule(double PeakRate, int WarmupSteps, int TotalSteps, double MinimumRatio = 0.1)
{
    public double At(int step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return PeakRate * (step + 1) / WarmupSteps;
        if (step >= TotalSteps) return PeakRate * MinimumRatio;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * progress));
        return PeakRate * (MinimumRatio + (1 - MinimumRatio) * cosine);
    }

    public static LearningRateSchedule Constant(double rate) => new(rate, 0, int.MaxValue, 1.0);
}
