using MentorKd.Modeling.Training;

namespace MentorKd.Distillation.Training;

/// <summary>The mentor's soft labels for a training batch, for the soft-label term of the student's loss.</summary>
public interface ISoftLabelSource
{
    string Name { get; }

    /// <returns>[B, T, V] logits or log-probabilities at T, without gradient, on the batch's device.</returns>
    MentorSoftLabels SoftLabels(LanguageModelBatch batch);

    /// <summary>The batch that will be asked for after the current one, given while the current step runs: a source
    /// whose mentor is elsewhere starts on it now, so the student does not wait for it. By default nothing happens.</summary>
    void Prefetch(LanguageModelBatch next) { }
}
