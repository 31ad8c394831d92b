using TorchSharp.Modules;
using MentorKd.Modeling.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Modeling.Model;

/// <summary>Pre-LayerNorm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).</summary>
public sealed class TransformerBlock : Module
{
    private readonly LayerNorm ln_1;
    private readonly CausalSelfAttention attn;
    private readonly LayerNorm ln_2;
    private readonly FeedForward mlp;

    public TransformerBlock(GptConfig config) : base(nameof(TransformerBlock))
    {
        ln_1 = LayerNorm(config.EmbeddingSize, config.LayerNormEpsilon);
        attn = new CausalSelfAttention(config);
        ln_2 = LayerNorm(config.EmbeddingSize, config.LayerNormEpsilon);
        mlp = new FeedForward(config);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor? mask, KeyValueCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        x = x.Plus(attn.forward(ln_1.forward(x), mask, cache, layer));
        x = x.Plus(mlp.forward(ln_2.forward(x)));
        return x.MoveToOuterDisposeScope();
    }
}
