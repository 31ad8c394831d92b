using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Modeling.Model;

/// <summary>
/// A linear layer (weight [out, in], optional bias; the state-dict names of <c>nn.Linear</c>) whose matrix product may
/// run in a narrower type than its weights: mixed precision. TorchSharp has no autocast, so each projection casts its
/// input and weights to <see cref="ComputeType"/> for the product and its result back; autograd carries the gradients
/// through the casts, so fp32 master weights receive fp32 gradients of bf16 products. On this CPU kind that is the
/// difference between MKL's fp32 AVX2 path and oneDNN's bf16 kernels (about 4.7× the GEMM rate).
/// </summary>
public sealed class Projection : Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;

    public Projection(long inputs, long outputs, bool hasBias = true) : base(nameof(Projection))
    {
        // nn.Linear's default initialisation (the models draw their own on top).
        weight = new Parameter(empty(outputs, inputs));
        init.kaiming_uniform_(weight, Math.Sqrt(5));
        if (hasBias)
        {
            double bound = 1 / Math.Sqrt(inputs);
            bias = new Parameter(empty(outputs));
            init.uniform_(bias, -bound, bound);
        }
        RegisterComponents();
    }

    /// <summary>The type the product runs in (bfloat16 for mixed precision); null: the weights' own.</summary>
    public ScalarType? ComputeType { get; set; }

    public override Tensor forward(Tensor x) => Apply(x, weight, bias, ComputeType);

    /// <summary>x · weightᵀ + bias, the product in <paramref name="computeType"/> when given and different from the
    /// weights' type, returned in <paramref name="x"/>'s type (so norms, softmax and losses stay in fp32).</summary>
    public static Tensor Apply(Tensor x, Tensor weight, Tensor? bias, ScalarType? computeType)
    {
        if (computeType is not { } narrow || narrow == weight.dtype) return functional.linear(x, weight, bias);
        using var scope = NewDisposeScope();
        return functional.linear(x.to(narrow), weight.to(narrow), bias?.to(narrow)).to(x.dtype).MoveToOuterDisposeScope();
    }
}
