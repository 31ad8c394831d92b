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

    /// <summary>The precisions a model is kept in by name: "float32" (or empty) and "bfloat16".</summary>
    public static readonly IReadOnlyList<string> DTypes = ["float32", "bfloat16"];

    /// <summary>Parses a model precision's name (<see cref="DTypes"/>), naming <paramref name="field"/> when it is none of them.</summary>
    public static ScalarType ResolveDType(string name, string field = "dtype") => name switch
    {
        "" or "float32" => ScalarType.Float32,
        "bfloat16" => ScalarType.BFloat16,
        _ => throw new ArgumentException($"{field} '{name}' is not float32 or bfloat16.", field),
    };

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
