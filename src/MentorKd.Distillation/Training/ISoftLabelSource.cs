using MentorKd.Modeling.Training;

namespace MentorKd.Distillation.Training;

/// <summary>The mentor's soft labels for a training batch, for the soft-label term of the student's loss.</summary>
public interface ISoftLabelSource
{
    string Name { get; }

    /// <returns>[B, T, V] logits or log-probabilities at T, without gradient, on the batch's device.</returns>
    MentorSoftLabels SoftLabels(LanguageModelBatch batch);
}
