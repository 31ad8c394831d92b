using static TorchSharp.torch;

namespace MentorKd.Modeling.Tests;

/// <summary>The pieces the tests' reference models are computed from, one number at a time in double precision: a model's
/// weights as plain arrays, and the few operations every family shares.</summary>
internal static class PlainArithmetic
{
    /// <summary>The state dict's matrices and vectors by name.</summary>
    public static (Dictionary<string, float[,]> Matrices, Dictionary<string, float[]> Vectors) Weights(nn.Module model) =>
        (model.state_dict().Where(p => p.Value.dim() == 2).ToDictionary(p => p.Key, p => TinyModels.ToMatrix(p.Value)),
         model.state_dict().Where(p => p.Value.dim() == 1).ToDictionary(p => p.Key, p => { using var c = p.Value.contiguous(); return c.data<float>().ToArray(); }));

    public static double[] RmsNorm(double[] row, float[] scale, double epsilon)
    {
        double rms = Math.Sqrt(row.Sum(r => r * r) / row.Length + epsilon);
        return row.Select((r, i) => r / rms * scale[i]).ToArray();
    }

    /// <summary>weight · row (+ bias), with weight [out, in] as torch stores a linear layer's.</summary>
    public static double[] Project(double[] row, float[,] weight, float[]? bias = null) =>
        Enumerable.Range(0, weight.GetLength(0)).Select(o => Enumerable.Range(0, row.Length).Sum(i => row[i] * weight[o, i]) + (bias?[o] ?? 0)).ToArray();

    public static double[] Add(double[] a, double[] b) => a.Select((x, i) => x + b[i]).ToArray();
}
