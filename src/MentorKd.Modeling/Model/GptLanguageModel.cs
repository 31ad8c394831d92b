using TorchSharp;
using MentorKd.Modeling.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Modeling.Model;

/// <summary>
/// A decoder-only GPT-2 language model (Hugging Face's <c>GPT2LMHeadModel</c>): the trunk under the name
/// <c>transformer</c> and an output head tied to the token embedding, so the state dict carries exactly the
/// <c>transformer.*</c> tensors of a GPT-2 checkpoint.
/// </summary>
public sealed class GptLanguageModel : CausalLanguageModel
{
    private readonly GptTransformer transformer;

    /// <param name="config">The model's shape.</param>
    /// <param name="initialization">Draws the initial weights. Pass a seeded generator for weights that depend on the
    /// seed alone: libtorch's default generator is shared by the whole process, so a job seeding it while another
    /// thread builds or samples would get a different initialisation from run to run.</param>
    public GptLanguageModel(GptConfig config, Generator? initialization = null) : base(nameof(GptLanguageModel))
    {
        config.Validate();
        Config = config;
        transformer = new GptTransformer(config);
        RegisterComponents();
        InitializeWeights(initialization);
    }

    public GptConfig Config { get; }

    public override int VocabSize => Config.VocabSize;
    public override int ContextLength => Config.ContextLength;
    public override int LayerCount => Config.LayerCount;
    public override Device Device => transformer.TokenEmbedding.device;

    protected override Tensor Trunk(Tensor inputIds, Tensor positions, Tensor? mask, KeyValueCache? cache) => transformer.forward(inputIds, positions, mask, cache);

    /// <summary>The head is the token embedding (tied weights).</summary>
    protected override Tensor Head(Tensor hidden) => Projection.Apply(hidden, transformer.TokenEmbedding, null, ComputeType);

    private void InitializeWeights(Generator? generator)
    {
        // GPT-2 initialisation: N(0, 0.02) everywhere, residual projections scaled by 1/sqrt(2·layers), zero biases.
        using var noGrad = no_grad();
        double residualStd = 0.02 / Math.Sqrt(2.0 * Config.LayerCount);
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.EndsWith(".bias")) init.zeros_(parameter);
            else if (name.Contains(".ln_") || name.Contains("ln_f")) init.ones_(parameter);
            else if (name.EndsWith("c_proj.weight")) parameter.normal_(0, residualStd, generator);
            else parameter.normal_(0, 0.02, generator);
        }
    }
}
