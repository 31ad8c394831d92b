namespace MentorKd.Modeling.Checkpoints;

/// <summary>
/// The one mapping between our state dict and Hugging Face GPT-2 checkpoints. Names are identical
/// (<c>transformer.h.{i}.attn.c_attn.weight</c>…); GPT-2 stores its projections as Conv1D (in, out) where we
/// use Linear (out, in), so those four weights are transposed on the way in and out.
/// </summary>
public static class Gpt2TensorNames
{
    public const string Prefix = "transformer.";

    private static readonly string[] Conv1DWeights = ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"];

    public static bool IsTransposed(string name) => Conv1DWeights.Any(name.EndsWith);

    /// <summary>
    /// Our name for a checkpoint tensor, or null for tensors a GPT-2 checkpoint may carry that hold no weights
    /// of ours: the causal-mask buffers and the LM head, which is tied to <c>wte</c>.
    /// </summary>
    public static string? FromCheckpoint(string name)
    {
        if (name.EndsWith(".attn.bias") || name.EndsWith(".attn.masked_bias") || name == "lm_head.weight") return null;
        // Hub checkpoints of the bare GPT2Model have no "transformer." prefix.
        return name.StartsWith(Prefix, StringComparison.Ordinal) ? name : Prefix + name;
    }
}
