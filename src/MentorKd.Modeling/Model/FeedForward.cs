using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Modeling.Model;

/// <summary>GPT-2's position-wise MLP: expand, GELU (tanh approximation, "gelu_new"), project back.</summary>
public sealed class FeedForward : Module<Tensor, Tensor>
{
    private readonly Projection c_fc;
    private readonly Projection c_proj;
    private readonly Module<Tensor, Tensor> act;
    private readonly Dropout dropout;

    public FeedForward(GptConfig config) : base(nameof(FeedForward))
    {
        c_fc = new Projection(config.EmbeddingSize, config.MlpSize);
        c_proj = new Projection(config.MlpSize, config.EmbeddingSize);
        act = config.ActivationFunction == "gelu" ? GELU() : GELU(TorchSharp.Modules.GELU.Approximate.tanh);
        dropout = Dropout(config.ResidualDropout);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return dropout.forward(c_proj.forward(act.forward(c_fc.forward(x)))).MoveToOuterDisposeScope();
    }
}
