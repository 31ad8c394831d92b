using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Modeling.Model;

/// <summary>
/// Any model family as generation sees it: decoder-only (<see cref="CausalLanguageModel"/>: GPT-2, Llama) or
/// encoder-decoder (<see cref="T5LanguageModel"/>), each scoring one vocabulary on one device.
/// </summary>
public abstract class LanguageModel : Module
{
    protected LanguageModel(string name) : base(name) { }

    public abstract int VocabSize { get; }
    /// <summary>The longest sequence the model takes: prompt and continuation (decoder-only), or prompt (encoder-decoder).</summary>
    public abstract int ContextLength { get; }
    public abstract Device Device { get; }

    /// <summary>Parameters counted once (a head tied to the token embedding is not counted twice).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());
}
