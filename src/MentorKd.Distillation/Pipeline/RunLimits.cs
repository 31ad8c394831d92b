namespace MentorKd.Distillation.Pipeline;

/// <summary>
/// What one run may ask of a platform: the operator's limits (the augmentation service's "Augmentation:Limits"), checked
/// with the rest of the config when a run is submitted, so a run that could never finish — or would hold the machine for
/// good — is refused at once, naming the field and the limit.
/// </summary>
public sealed record RunLimits
{
    public int MaxNameLength { get; init; } = 100;
    /// <summary>Questions a run generates or reads (train, dev and test together) and annotates.</summary>
    public int MaxQuestions { get; init; } = 100_000;
    public int MaxRationalesPerQuestion { get; init; } = 16;
    public int MaxSamplesPerQuestion { get; init; } = 32;
    public int MaxEpochs { get; init; } = 1_000;
    /// <summary>Optimiser steps one training job may take at most (epochs × batches, with every rationale it could get).</summary>
    public long MaxTrainingSteps { get; init; } = 10_000_000;
    /// <summary>Parameters of a from-scratch model (blocks and position table; the vocabulary is not known at submission).</summary>
    public long MaxModelParameters { get; init; } = 2_000_000_000;
    public int MaxNewTokens { get; init; } = 4_096;
    public int MaxFddRounds { get; init; } = 50;

    public static readonly RunLimits Default = new();
}
