using static TorchSharp.torch;

namespace MentorKd.Modeling.Runtime;

/// <summary>Process-wide TorchSharp settings: thread count and the device models run on.</summary>
public static class TorchRuntime
{
    /// <summary>
    /// Sets libtorch's intra-op threads explicitly (its own default can oversubscribe a small machine).
    /// 0 means one per core. Every host of models calls it first, so it also tunes the native allocator for them
    /// (<see cref="NativeAllocator"/>).
    /// </summary>
    public static void SetThreads(int threads)
    {
        if (threads < 0) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be 0 (all cores) or positive.");
        NativeAllocator.KeepFreedMemory();
        set_num_threads(threads == 0 ? Environment.ProcessorCount : threads);
    }

    /// <summary>The precisions a model is kept in by name: "auto" (bfloat16 where this CPU computes it natively, float32
    /// elsewhere), "float32" (or empty) and "bfloat16".</summary>
    public static readonly IReadOnlyList<string> DTypes = ["auto", "float32", "bfloat16"];

    /// <summary>
    /// Whether this CPU has bf16 dot-product instructions (AVX512_BF16 or AMX-BF16), which oneDNN's bf16 GEMM uses. Without
    /// them libtorch emulates bf16 products and a bf16 model runs several times slower than in fp32 (measured here on an
    /// AVX2-only AMD EPYC: the tiny run took 5.5 min in bf16 against 1.1 in fp32), so "auto" means fp32 there.
    /// </summary>
    public static bool NativeBFloat16 { get; } = CpuFlags().Overlaps(["avx512_bf16", "amx_bf16"]);

    /// <summary>Parses a model precision's name (<see cref="DTypes"/>), naming <paramref name="field"/> when it is none of them.</summary>
    public static ScalarType ResolveDType(string name, string field = "dtype") => name switch
    {
        "" or "float32" => ScalarType.Float32,
        "bfloat16" => ScalarType.BFloat16,
        "auto" => NativeBFloat16 ? ScalarType.BFloat16 : ScalarType.Float32,
        _ => throw new ArgumentException($"{field} '{name}' is not auto, float32 or bfloat16.", field),
    };

    /// <summary>The name of a precision <see cref="ResolveDType"/> gives.</summary>
    public static string DTypeName(ScalarType type) => type == ScalarType.BFloat16 ? "bfloat16" : "float32";

    /// <summary>Whether a model held in <paramref name="held"/> (a resolved name) serves a request for <paramref name="requested"/>
    /// ("auto" takes either: it was resolved where the model is held).</summary>
    public static bool Serves(string held, string requested) => requested == "auto" || held == DTypeName(ResolveDType(requested));

    private static HashSet<string> CpuFlags()
    {
        try
        {
            var flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            return flags is null ? [] : flags[(flags.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        }
        catch (IOException) { return []; } // not Linux: no way to tell, so fp32
        catch (UnauthorizedAccessException) { return []; }
    }

    /// <summary>
    /// Parses "cpu", "cuda" or "cuda:N". Asking for CUDA where libtorch has none fails here, with a message
    /// that says how to get a CUDA build, rather than deep in the first tensor operation.
    /// </summary>
    public static Device ResolveDevice(string name)
    {
        var normalized = (name ?? "").Trim().ToLowerInvariant();
        if (normalized is "" or "cpu") return CPU;
        if (normalized == "cuda" || normalized.StartsWith("cuda:"))
        {
            if (!cuda.is_available())
                throw new ArgumentException(
                    $"device '{name}' requested but CUDA is not available in this build (it uses CPU libtorch). " +
                    "Build with -p:TorchDevice=cuda on a machine with an NVIDIA GPU, or use --device cpu.", "device");
            return device(normalized);
        }
        throw new ArgumentException($"device '{name}' is not recognised: use cpu, cuda or cuda:N.", "device");
    }
}
