using MentorKd.Modeling.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Generation;

/// <summary>Picks the next token of every row from its logits, in Hugging Face's order: temperature, top-k, top-p, draw.</summary>
internal static class NextTokenSampler
{
    /// <param name="logits">[B, V] logits of the last position.</param>
    /// <returns>[B] token ids (Int64).</returns>
    public static Tensor Choose(Tensor logits, GenerationOptions options, Generator? generator)
    {
        using var scope = NewDisposeScope();
        logits = logits.to(ScalarType.Float32);
        if (options.Temperature == 0) return logits.argmax(-1).MoveToOuterDisposeScope();

        logits = logits.DividedBy(options.Temperature);
        if (options.TopK > 0 && options.TopK < logits.shape[^1])
        {
            var kth = logits.topk(options.TopK, dim: -1).values[.., ^1..];
            logits = logits.FilledWhere(logits < kth, double.NegativeInfinity);
        }
        if (options.TopP < 1.0)
        {
            var (sorted, order) = logits.sort(-1, descending: true);
            var probabilities = sorted.softmax(-1);
            // Drop a token when the tokens ranked above it already reach p (so the top token always stays).
            using var topP = HeldScalars.Hold(options.TopP);
            var drop = (probabilities.cumsum(-1) - probabilities) >= topP;
            var dropInVocabOrder = zeros_like(drop).scatter(-1, order, drop);
            logits = logits.FilledWhere(dropInVocabOrder, double.NegativeInfinity);
        }
        return multinomial(logits.softmax(-1), 1, generator: generator).squeeze(-1).MoveToOuterDisposeScope();
    }
}
