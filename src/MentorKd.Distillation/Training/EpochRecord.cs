namespace MentorKd.Distillation.Training;

/// <summary>One epoch of one training job, as written to metrics.jsonl.</summary>
public sealed record EpochRecord(
    string Job, int Epoch, int Steps, double TrainLoss, double HardCrossEntropy, double? SoftTerm,
    double DevAccuracy, double TestAccuracy, double Seconds);

/// <summary>What a job ended with: the dev-selected epoch (the honest figure) and the best test epoch (the paper's protocol).</summary>
public sealed record TrainingOutcome(
    string Job, int Examples, int Steps, double Seconds, IReadOnlyList<EpochRecord> History, bool Paused = false)
{
    /// <summary>The precision its matmuls ran in ("float32" or "bfloat16"): what "auto" chose on the host that trained it.</summary>
    public string MatmulDtype { get; init; } = "";

    /// <summary>Best dev accuracy; ties go to the later epoch (as the trainer's best/ checkpoint does).</summary>
    public EpochRecord DevSelected => History.OrderByDescending(h => h.DevAccuracy).ThenByDescending(h => h.Epoch).First();
    public EpochRecord BestTest => History.OrderByDescending(h => h.TestAccuracy).ThenBy(h => h.Epoch).First();
}
