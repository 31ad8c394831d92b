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
public sealed class GptLanguageModel : Module
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

    /// <summary>Parameters counted once (the head shares the token embedding).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    public Device Device => transformer.TokenEmbedding.device;

    /// <summary>
    /// Logits [B, T, V] for the new positions (or [B, 1, V] for just the last one).
    /// </summary>
    /// <param name="inputIds">[B, T] token ids of the new positions.</param>
    /// <param name="attentionMask">
    /// Optional [B, Tpast+T] with 1 for real tokens and 0 for (left) padding, covering cached positions too.
    /// Without it every row is a plain causal sequence continuing the cache.
    /// </param>
    /// <param name="cache">Optional key/value cache, extended by this call.</param>
    /// <param name="lastPositionOnly">Project only the final position to the vocabulary (decoding).</param>
    public Tensor forward(Tensor inputIds, Tensor? attentionMask = null, KeyValueCache? cache = null, bool lastPositionOnly = false)
    {
        using var scope = NewDisposeScope();
        long time = inputIds.shape[1];
        long past = cache?.Length ?? 0;
        if (past + time > Config.ContextLength)
            throw new ArgumentException($"Sequence of {past + time} tokens exceeds the model's context of {Config.ContextLength} (n_positions).", nameof(inputIds));

        Tensor positions;
        Tensor? mask = null;
        if (attentionMask is null)
        {
            positions = HeldScalars.Range(past, past + time, inputIds.device).unsqueeze(0);
        }
        else
        {
            // Left-padded rows: positions count real tokens only; padding keys are hidden from every query.
            var real = attentionMask.to(ScalarType.Int64);
            positions = real.cumsum(1).Minus(1).AtLeast(0)[.., (int)past..];
            mask = AttentionMask(attentionMask.to(ScalarType.Bool), past, time);
        }

        var hidden = transformer.forward(inputIds, positions, mask, cache);
        if (lastPositionOnly) hidden = hidden[.., ^1..];
        return functional.linear(hidden, transformer.TokenEmbedding).MoveToOuterDisposeScope();
    }

    /// <summary>[B, 1, T, Tpast+T]: causal, no padded keys, and always the query's own position (so a
    /// padding query never sees an empty row, whose softmax would be NaN and spread through the values).</summary>
    private static Tensor AttentionMask(Tensor keyIsReal, long past, long time)
    {
        long total = past + time;
        var device = keyIsReal.device;
        var queryPosition = HeldScalars.Range(past, total, device).unsqueeze(1);
        var keyPosition = HeldScalars.Range(0, total, device).unsqueeze(0);
        var causal = keyPosition <= queryPosition;
        var self = keyPosition == queryPosition;
        var allowed = causal.unsqueeze(0) & keyIsReal.unsqueeze(1);
        return (allowed | self.unsqueeze(0)).unsqueeze(1);
    }

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
