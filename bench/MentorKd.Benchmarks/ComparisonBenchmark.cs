using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MentorKd.Modeling.Model;

namespace MentorKd.Benchmarks;

/// <summary>
/// <c>make bench-compare</c>: the project's model against the same model in PyTorch (bench/pytorch/gpt_cells.py) on
/// this machine — training step, distillation step (frozen mentor + loss), cached greedy decoding at batch 1 and 16,
/// peak resident memory — each cell a fresh process per implementation, implementations alternated round by round,
/// each figure the median over rounds, printed as ratios to PyTorch fp32 measured in the same run.
/// </summary>
internal static class ComparisonBenchmark
{
    /// <summary>Two cores' fp32 FMA peak on this machine kind (AVX-512, 2 FMA units, ~3.8 GHz), the yardstick for
    /// achieved GEMM FLOP/s.</summary>
    private const double Fp32PeakGflops = 490;

    private sealed record Implementation(string Name, Func<string, string, string, ProcessStartInfo> Start);

    public static async Task<int> RunAsync(int rounds, double seconds, int threads, string python, IReadOnlyList<string> shapes)
    {
        var script = FindScript();
        var data = Path.Combine(Path.GetTempPath(), $"mentorkd-compare-{Environment.ProcessId}.bin");
        WriteTokens(data, tokens: 16 * 256 * 64, seed: 1);
        string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);
        Implementation[] implementations =
        [
            new("PyTorch fp32", (shape, cell, file) =>
            {
                var start = new ProcessStartInfo(python, [script, "--shape", shape, "--cell", cell, "--data", file, "--seconds", F(seconds), "--threads", threads.ToString(CultureInfo.InvariantCulture)]);
                // The machine's OpenBLAS overrides are for other tools; PyTorch gets OpenBLAS's own choice of kernels.
                start.Environment.Remove("OPENBLAS_CORETYPE");
                start.Environment.Remove("OPENBLAS_L2_SIZE");
                start.Environment["OMP_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
                return start;
            }),
            new("ours fp32", (shape, cell, file) => Ours(shape, cell, "fp32", file, F(seconds), threads)),
            new("ours bf16", (shape, cell, file) => Ours(shape, cell, "bf16", file, F(seconds), threads)),
        ];

        var results = new Dictionary<(string Shape, string Cell, string Implementation), List<CellResult>>();
        try
        {
            for (int round = 0; round < rounds; round++)
                foreach (var shape in shapes)
                    foreach (var cell in ComparisonCell.Cells)
                        // Alternate who goes first, so drift in the machine's state spreads over every implementation.
                        foreach (var implementation in implementations.Skip(round % implementations.Length).Concat(implementations.Take(round % implementations.Length)))
                        {
                            Console.Error.WriteLine($"round {round + 1}/{rounds}: {shape} {cell} {implementation.Name}…");
                            var result = await RunCellAsync(implementation.Start(shape, cell, data));
                            var key = (shape, cell, implementation.Name);
                            if (!results.TryGetValue(key, out var list)) results[key] = list = [];
                            list.Add(result);
                        }
        }
        finally
        {
            File.Delete(data);
        }

        Print(results, implementations.Select(i => i.Name).ToList(), shapes, rounds, seconds, threads);
        return 0;
    }

    private static ProcessStartInfo Ours(string shape, string cell, string precision, string data, string seconds, int threads)
    {
        var host = Environment.ProcessPath!;
        string[] arguments = [ComparisonCell.Mode, shape, cell, precision, data, seconds, threads.ToString(CultureInfo.InvariantCulture)];
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") arguments = [typeof(ComparisonCell).Assembly.Location, .. arguments];
        return new ProcessStartInfo(host, arguments);
    }

    private static async Task<CellResult> RunCellAsync(ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var lastLine = (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        if (process.ExitCode != 0 || !lastLine.StartsWith('{'))
            throw new InvalidOperationException($"{start.FileName} {string.Join(' ', start.ArgumentList)} exited {process.ExitCode}: {await error}");
        using var json = JsonDocument.Parse(lastLine);
        var root = json.RootElement;
        return new CellResult(Read(root, "tokens_per_second", "TokensPerSecond"), Read(root, "seconds_per_run", "SecondsPerRun"),
            Read(root, "peak_rss_mb", "PeakRssMb"), (long)Read(root, "parameters", "Parameters"));
    }

    private static double Read(JsonElement root, string pythonName, string dotnetName) =>
        (root.TryGetProperty(pythonName, out var value) ? value : root.GetProperty(dotnetName)).GetDouble();

    private static void Print(Dictionary<(string, string, string), List<CellResult>> results, List<string> implementations,
        IReadOnlyList<string> shapes, int rounds, double seconds, int threads)
    {
        void Header()
        {
            Console.WriteLine($"| model | cell | {string.Join(" | ", implementations)} | {string.Join(" | ", implementations.Skip(1).Select(i => $"{i} / PyTorch"))} |");
            Console.WriteLine($"|---|---|{string.Concat(Enumerable.Repeat("---|", 2 * implementations.Count - 1))}");
        }

        Console.WriteLine($"## Ours against PyTorch ({rounds} rounds, {seconds:G} s per cell, {threads} threads; median, min–max in brackets)");
        Console.WriteLine();
        Console.WriteLine("Training cells: seconds per step (lower is better); decoding: tokens/s (higher is better). Ratios: ours / PyTorch fp32.");
        Console.WriteLine();
        Header();
        foreach (var shape in shapes)
            foreach (var cell in ComparisonCell.Cells)
            {
                bool training = !cell.StartsWith("decode");
                double Value(CellResult r) => training ? r.SecondsPerRun : r.TokensPerSecond;
                var cells = implementations.Select(i => results[(shape, cell, i)].Select(Value).ToList()).ToList();
                var ratios = cells.Skip(1).Select(c => Measure.Median(c) / Measure.Median(cells[0]));
                Console.WriteLine($"| {shape} | {cell} | {string.Join(" | ", cells.Select(c => Spread(c, training ? "F3" : "N0")))} | {string.Join(" | ", ratios.Select(r => $"{r:F2}×"))} |");
            }

        Console.WriteLine();
        Console.WriteLine("Peak resident memory, MB (each cell its own process):");
        Console.WriteLine();
        Header();
        foreach (var shape in shapes)
            foreach (var cell in ComparisonCell.Cells)
            {
                var medians = implementations.Select(i => Measure.Median(results[(shape, cell, i)].Select(r => r.PeakRssMb).ToList())).ToList();
                Console.WriteLine($"| {shape} | {cell} | {string.Join(" | ", medians.Select(m => $"{m:N0}"))} | {string.Join(" | ", medians.Skip(1).Select(m => $"{m / medians[0]:F2}×"))} |");
            }

        Console.WriteLine();
        Console.WriteLine($"Achieved matmul GFLOP/s in the training step (6·N + 12·L·C·T per token; fp32 FMA peak of 2 cores ≈ {Fp32PeakGflops:N0}):");
        Console.WriteLine();
        Console.WriteLine($"| model | {string.Join(" | ", implementations)} |");
        Console.WriteLine($"|---|{string.Concat(Enumerable.Repeat("---|", implementations.Count))}");
        foreach (var shape in shapes)
        {
            var config = ComparisonCell.Shapes[shape];
            var rates = implementations.Select(i => Measure.Median(results[(shape, "train", i)].Select(r => r.TokensPerSecond).ToList()) * TrainingFlopsPerToken(config) / 1e9);
            Console.WriteLine($"| {shape} | {string.Join(" | ", rates.Select(g => $"{g:N0} ({g / Fp32PeakGflops:P0})"))} |");
        }
    }

    /// <summary>Forward and backward matmul FLOPs per token: 6 per weight of every product (blocks and tied head) plus
    /// attention's scores and weighted sums over the whole context.</summary>
    private static double TrainingFlopsPerToken(GptConfig c) =>
        6.0 * (12.0 * c.LayerCount * c.EmbeddingSize * c.EmbeddingSize + (double)c.VocabSize * c.EmbeddingSize)
        + 12.0 * c.LayerCount * c.EmbeddingSize * c.ContextLength;

    private static string Spread(List<double> values, string format) =>
        $"{Measure.Median(values).ToString(format, CultureInfo.InvariantCulture)} ({values.Min().ToString(format, CultureInfo.InvariantCulture)}–{values.Max().ToString(format, CultureInfo.InvariantCulture)})";

    private static void WriteTokens(string path, int tokens, int seed)
    {
        var random = new Random(seed);
        var bytes = new byte[tokens * 4];
        for (int i = 0; i < tokens; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), random.Next(3, ComparisonCell.Vocab));
        File.WriteAllBytes(path, bytes);
    }

    private static string FindScript()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "bench", "pytorch", "gpt_cells.py");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("bench/pytorch/gpt_cells.py not found above the benchmark's folder.");
    }
}
