using TorchSharp.Modules;
using MentorKd.Modeling.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Modeling.Model;

/// <summary>
/// The GPT-2 trunk (Hugging Face's <c>GPT2Model</c>): token and learned position embeddings, the blocks,
/// and the final LayerNorm. Field names are the checkpoint key segments (<c>wte</c>, <c>h.0.attn.c_attn</c>…).
/// </summary>
public sealed class GptTransformer : Module
{
    private readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly Dropout drop;
    private readonly ModuleList<TransformerBlock> h;
    private readonly LayerNorm ln_f;

    public GptTransformer(GptConfig config) : base(nameof(GptTransformer))
    {
        wte = Embedding(config.VocabSize, config.EmbeddingSize);
        wpe = Embedding(config.ContextLength, config.EmbeddingSize);
        drop = Dropout(config.EmbeddingDropout);
        h = new ModuleList<TransformerBlock>(Enumerable.Range(0, config.LayerCount).Select(_ => new TransformerBlock(config)).ToArray());
        ln_f = LayerNorm(config.EmbeddingSize, config.LayerNormEpsilon);
        RegisterComponents();
    }

    /// <summary>The token embedding, which is also the output head (tied weights).</summary>
    public Tensor TokenEmbedding => wte.weight!;

    public Tensor forward(Tensor inputIds, Tensor positions, Tensor? mask, KeyValueCache? cache)
    {
        using var scope = NewDisposeScope();
        var x = drop.forward(wte.forward(inputIds).Plus(wpe.forward(positions)));
        for (int layer = 0; layer < h.Count; layer++)
            x = h[layer].forward(x, mask, cache, layer);
        return ln_f.forward(x).MoveToOuterDisposeScope();
    }
}
