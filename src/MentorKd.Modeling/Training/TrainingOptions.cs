namespace MentorKd.Modeling.Training;

/// <summary>Optimiser settings shared by every training job.</summary>
public sealed record TrainingOptions
{
    public double LearningRate { get; init; } = 1e-3;
    public int WarmupSteps { get; init; } = 50;
    public int TotalSteps { get; init; } = 1000;
    public double MinimumLearningRateRatio { get; init; } = 0.1;
    /// <summary>Applied to 2-D weights (matrices, embeddings) only; biases and LayerNorms are not decayed.</summary>
    public double WeightDecay { get; init; } = 0.01;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    /// <summary>Global gradient-norm clip; 0 turns clipping off.</summary>
    public double GradientClip { get; init; } = 1.0;

    public LearningRateSchedule Schedule => new(LearningRate, WarmupSteps, TotalSteps, MinimumLearningRateRatio);

    public void Validate()
    {
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be positive.");
        if (WarmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(WarmupSteps), WarmupSteps, "WarmupSteps must not be negative.");
        if (TotalSteps <= 0) throw new ArgumentOutOfRangeException(nameof(TotalSteps), TotalSteps, "TotalSteps must be positive.");
        if (WeightDecay < 0) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "WeightDecay must not be negative.");
        if (GradientClip < 0) throw new ArgumentOutOfRangeException(nameof(GradientClip), GradientClip, "GradientClip must not be negative.");
    }
}
