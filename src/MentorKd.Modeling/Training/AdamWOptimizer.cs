using System.Globalization;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Training;

/// <summary>
/// AdamW with decoupled weight decay, the same update as torch.optim.AdamW. Ours rather than TorchSharp's because
/// TorchSharp's step makes eight throwaway Scalars per parameter that a collection on another thread can free
/// mid-update (see <see cref="HeldScalars"/>); here each step's constants are held until the update is done.
/// Its moments save to and restore from a safetensors file, keyed by parameter name.
/// </summary>
public sealed class AdamWOptimizer : IDisposable
{
    /// <summary>Parameters sharing one weight decay (e.g. matrices decayed, biases and norms not).</summary>
    public sealed record ParameterGroup(IReadOnlyList<(string Name, Parameter Parameter)> Parameters, double WeightDecay);

    private const string StepKey = "step";
    private readonly IReadOnlyList<ParameterGroup> _groups;
    private readonly double _beta1, _beta2, _epsilon;
    private readonly Dictionary<string, (Tensor Mean, Tensor SquaredMean)> _moments = new(StringComparer.Ordinal);

    public AdamWOptimizer(IReadOnlyList<ParameterGroup> groups, double beta1, double beta2, double epsilon = 1e-8)
    {
        _groups = groups;
        (_beta1, _beta2, _epsilon) = (beta1, beta2, epsilon);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in groups.SelectMany(g => g.Parameters))
            _moments[name] = (zeros_like(parameter).DetachFromDisposeScope(), zeros_like(parameter).DetachFromDisposeScope());
    }

    /// <summary>Updates taken so far; the bias corrections depend on it.</summary>
    public long Steps { get; private set; }

    /// <summary>One update from the gradients the last backward pass left on the parameters.</summary>
    public void Step(double learningRate)
    {
        Steps++;
        double meanCorrection = 1 - Math.Pow(_beta1, Steps);
        double squaredMeanCorrection = 1 - Math.Pow(_beta2, Steps);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var beta1 = HeldScalars.Hold(_beta1);
        using var oneMinusBeta1 = HeldScalars.Hold(1 - _beta1);
        using var beta2 = HeldScalars.Hold(_beta2);
        using var oneMinusBeta2 = HeldScalars.Hold(1 - _beta2);
        using var epsilon = HeldScalars.Hold(_epsilon);
        using var rootSquaredMeanCorrection = HeldScalars.Hold(Math.Sqrt(squaredMeanCorrection));
        using var negativeStepSize = HeldScalars.Hold(-learningRate / meanCorrection);
        foreach (var group in _groups)
        {
            using var decay = HeldScalars.Hold(1 - learningRate * group.WeightDecay);
            foreach (var (name, parameter) in group.Parameters)
            {
                var gradient = parameter.grad;
                if (gradient is null) continue;
                var (mean, squaredMean) = _moments[name];
                if (group.WeightDecay != 0) parameter.mul_(decay);
                mean.mul_(beta1).add_(gradient, oneMinusBeta1);
                squaredMean.mul_(beta2).addcmul_(gradient, gradient, oneMinusBeta2);
                var denominator = squaredMean.sqrt().div_(rootSquaredMeanCorrection).add_(epsilon, HeldScalars.One);
                parameter.addcdiv_(mean, denominator, negativeStepSize);
            }
        }
    }

    public void Save(string path)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, (mean, squaredMean)) in _moments)
        {
            tensors[name + ".exp_avg"] = mean;
            tensors[name + ".exp_avg_sq"] = squaredMean;
        }
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { [StepKey] = Steps.ToString(CultureInfo.InvariantCulture) });
    }

    /// <summary>Restores moments saved by <see cref="Save"/> for the same parameters; a mismatch names what differs.</summary>
    public void Restore(string path)
    {
        var (_, metadata, _) = SafetensorsReader.ReadHeader(path);
        if (!metadata.TryGetValue(StepKey, out var stepText) || !long.TryParse(stepText, CultureInfo.InvariantCulture, out var steps) || steps < 0)
            throw new InvalidDataException($"{path}: optimiser state has no valid '{StepKey}' in its metadata.");
        var saved = SafetensorsReader.ReadAll(path);
        try
        {
            using var noGrad = no_grad();
            foreach (var (name, (mean, squaredMean)) in _moments)
            {
                CopyInto(mean, saved, name + ".exp_avg", path);
                CopyInto(squaredMean, saved, name + ".exp_avg_sq", path);
            }
            Steps = steps;
        }
        finally
        {
            foreach (var tensor in saved.Values) tensor.Dispose();
        }
    }

    private static void CopyInto(Tensor target, Dictionary<string, Tensor> saved, string key, string path)
    {
        if (!saved.TryGetValue(key, out var source))
            throw new InvalidDataException($"{path}: optimiser state has no '{key}' (saved for a different model?).");
        if (!source.shape.SequenceEqual(target.shape))
            throw new InvalidDataException($"{path}: '{key}' has shape [{string.Join(", ", source.shape)}], the model needs [{string.Join(", ", target.shape)}].");
        target.copy_(source);
    }

    public void Dispose()
    {
        foreach (var (mean, squaredMean) in _moments.Values)
        {
            mean.Dispose();
            squaredMean.Dispose();
        }
        _moments.Clear();
    }
}
