using static TorchSharp.torch;

namespace MentorKd.Distillation.Training;

/// <summary>
/// The mentor's side of the soft-label term for one batch ([B, T, V], no gradient), as its source has it: the
/// mentor's logits (a mentor in this process), or the log-probabilities of softmax(z / T) at the run's temperature
/// (what the mentor-server sends). The loss uses either as it is; kd modes mse and ce need logits.
/// </summary>
public sealed record MentorSoftLabels
{
    private MentorSoftLabels(Tensor? logits, Tensor? logProbabilities, double temperature) =>
        (Logits, LogProbabilities, Temperature) = (logits, logProbabilities, temperature);

    public Tensor? Logits { get; }
    public Tensor? LogProbabilities { get; }
    /// <summary>The temperature <see cref="LogProbabilities"/> were taken at.</summary>
    public double Temperature { get; }

    public Tensor Values => (Logits ?? LogProbabilities)!;

    public static MentorSoftLabels FromLogits(Tensor logits) => new(logits, null, double.NaN);

    public static MentorSoftLabels FromLogProbabilities(Tensor logProbabilities, double temperature) => new(null, logProbabilities, temperature);
}
