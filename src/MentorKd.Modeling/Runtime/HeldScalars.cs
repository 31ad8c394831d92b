using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Runtime;

/// <summary>
/// The only place this code base makes TorchSharp <see cref="Scalar"/>s. TorchSharp 0.107 hands libtorch a Scalar's
/// native handle without keeping the managed object alive, and frees the native Scalar in a finalizer: a Scalar
/// made for one call (an implicit <c>x * 0.5</c>, or the hidden alpha of <c>a + b</c>) can be freed by a garbage
/// collection on another thread while libtorch is still reading it ("Expected false to be true … toFloat", or a
/// wrong value read silently). Every Scalar here is held — for the process (<see cref="One"/>) or by a
/// <c>using</c> that outlives the call — and <c>build/BannedSymbols.TorchSharp.txt</c> bans the APIs that are not.
/// </summary>
public static class HeldScalars
{
#pragma warning disable RS0030 // the one sanctioned maker of Scalars: each is held while libtorch reads it
    /// <summary>1, the alpha of a tensor sum; lives as long as the process.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>A Scalar the caller keeps in a <c>using</c> variable across every call that reads it.</summary>
    public static Scalar Hold(double value) => value.ToScalar();

    /// <summary>An integer Scalar (exact for indices and positions) to keep in a <c>using</c> variable.</summary>
    public static Scalar Hold(long value) => value.ToScalar();
#pragma warning restore RS0030

    /// <summary><paramref name="left"/> + <paramref name="right"/> (element-wise, broadcasting).</summary>
    public static Tensor Plus(this Tensor left, Tensor right) => left.add(right, One);

    public static Tensor Plus(this Tensor tensor, double value) => WithHeld(Hold(value), s => tensor.add(s, One));

    public static Tensor Minus(this Tensor tensor, double value) => WithHeld(Hold(value), tensor.sub);

    /// <summary>Subtracts an integer, so an integer tensor stays integer.</summary>
    public static Tensor Minus(this Tensor tensor, long value) => WithHeld(Hold(value), tensor.sub);

    public static Tensor Times(this Tensor tensor, double factor) => WithHeld(Hold(factor), tensor.mul);

    public static Tensor DividedBy(this Tensor tensor, double divisor) => WithHeld(Hold(divisor), s => tensor.div(s));

    public static Tensor AtLeast(this Tensor tensor, long minimum) => WithHeld(Hold(minimum), tensor.clamp_min);

    /// <summary>A copy with <paramref name="value"/> where <paramref name="mask"/> is true.</summary>
    public static Tensor FilledWhere(this Tensor tensor, Tensor mask, double value) => WithHeld(Hold(value), s => tensor.masked_fill(mask, s));

    /// <summary>start, start+1, …, stop-1 as Int64 (torch.arange with held bounds).</summary>
    public static Tensor Range(long start, long stop, Device? device = null)
    {
        using var first = Hold(start);
        using var end = Hold(stop);
        return arange(first, end, One, ScalarType.Int64, device);
    }

    /// <summary>Runs <paramref name="operation"/> and only then frees <paramref name="held"/>.</summary>
    private static Tensor WithHeld(Scalar held, Func<Scalar, Tensor> operation)
    {
        using (held) return operation(held);
    }
}
