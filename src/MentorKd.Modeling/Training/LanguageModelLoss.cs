using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Modeling.Training;

/// <summary>Next-token cross-entropy: position t's logits predict the label at t+1; ignored labels do not count.</summary>
public static class LanguageModelLoss
{
    /// <param name="logits">[B, T, V]</param>
    /// <param name="labels">[B, T] aligned with the inputs (<see cref="LanguageModelBatch.IgnoreIndex"/> where unscored).</param>
    /// <returns>Mean over scored tokens (a scalar).</returns>
    public static Tensor CrossEntropy(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var vocab = logits.shape[^1];
        var predictions = logits[.., ..^1].reshape(-1, vocab);
        var targets = labels[.., 1..].reshape(-1);
        return functional.cross_entropy(predictions.to(ScalarType.Float32), targets, ignore_index: LanguageModelBatch.IgnoreIndex).MoveToOuterDisposeScope();
    }
}
