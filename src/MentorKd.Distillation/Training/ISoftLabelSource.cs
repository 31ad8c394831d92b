using MentorKd.Modeling.Training;
using static TorchSharp.torch;

namespace MentorKd.Distillation.Training;

/// <summary>The mentor's next-token logits for a training batch, for the soft-label term of the student's loss.</summary>
public interface ISoftLabelSource
{
    string Name { get; }

    /// <returns>[B, T, V] logits without gradient, on the batch's device.</returns>
    Tensor Logits(LanguageModelBatch batch);
}
