using System.Diagnostics;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Training;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Benchmarks;

/// <summary>
/// Models at the sizes teams bring (random weights in each one's exact shape, written as a bf16 folder as the hub ships
/// them): how long a folder takes to load and what it costs in resident memory against its weights' bytes, and greedy
/// decoding and training throughput, in fp32 and bf16, each measured in this run.
/// </summary>
internal static class PretrainedBenchmark
{
    private const int PromptLength = 32, NewTokens = 32, TrainBatch = 4, TrainPrompt = 64, TrainTarget = 64;

    /// <summary>SmolLM2-135M's, Qwen2.5-0.5B's, FlanT5-small's and FlanT5-base's shapes (from their config.json).</summary>
    private static readonly (string Name, Func<LanguageModel> Create)[] Shapes =
    [
        ("SmolLM2-135M", () => new LlamaLanguageModel(
            LlamaConfig.Small(49152, layers: 30, heads: 9, keyValueHeads: 3, hidden: 576, intermediate: 1536, contextLength: 2048) with { RopeTheta = 100000 }, new Generator(1))),
        ("Qwen2.5-0.5B", () => new LlamaLanguageModel(LlamaConfig.Small(151936, layers: 24, heads: 14, keyValueHeads: 2, hidden: 896, intermediate: 4864, contextLength: 2048)
            with { ModelType = "qwen2", RopeTheta = 1000000 }, new Generator(1))),
        ("FlanT5-small", () => new T5LanguageModel(T5Config.Small(32128, layers: 8, heads: 6, modelSize: 512, feedForward: 1024, headSize: 64), new Generator(1))),
        ("FlanT5-base", () => new T5LanguageModel(T5Config.Small(32128, layers: 12, heads: 12, modelSize: 768, feedForward: 2048, headSize: 64), new Generator(1))),
    ];

    public static int Run(double seconds, IReadOnlyList<string> only)
    {
        var table = new Table().Title($"Pretrained-model sizes ({Environment.ProcessorCount} cores; decode: prompt {PromptLength} + {NewTokens} new tokens, greedy, KV cache; " +
            $"train: batch {TrainBatch} × ({TrainPrompt} prompt + {TrainTarget} target) tokens)");
        foreach (var column in new[] { "model", "params", "folder (bf16)", "load fp32", "resident / fp32 weights", "load bf16", "decode b1 fp32 tok/s", "decode b1 bf16 tok/s", "bf16/fp32", "train fp32 tok/s" })
            table.AddColumn(column);
        foreach (var (name, create) in Shapes.Where(s => only.Count == 0 || only.Contains(s.Name)))
        {
            AnsiConsole.MarkupLineInterpolated($"[grey]measuring {name}…[/]");
            var folder = Path.Combine(Path.GetTempPath(), "mentorkd-bench", name);
            long parameters;
            int vocabulary;
            using (var written = create())
            {
                (parameters, vocabulary) = (written.ParameterCount, written.VocabSize);
                if (written is T5LanguageModel t5) T5Checkpoint.Save(t5, folder, ScalarType.BFloat16);
                else LlamaCheckpoint.Save((LlamaLanguageModel)written, folder, ScalarType.BFloat16);
            }
            GC.Collect();
            long folderBytes = Directory.GetFiles(folder).Sum(f => new FileInfo(f).Length);

            long before = ResidentBytes();
            var clock = Stopwatch.StartNew();
            var fp32 = ModelCheckpoints.LoadModel(folder);
            double loadFp32 = clock.Elapsed.TotalSeconds;
            double residentRatio = (ResidentBytes() - before) / (parameters * 4.0);
            double decodeFp32 = Decode(fp32, vocabulary, seconds);
            double train = Train(fp32, vocabulary, seconds);
            fp32.Dispose();
            GC.Collect();

            clock.Restart();
            using var bf16 = ModelCheckpoints.LoadModel(folder, dtype: ScalarType.BFloat16);
            double loadBf16 = clock.Elapsed.TotalSeconds;
            double decodeBf16 = Decode(bf16, vocabulary, seconds);
            table.AddRow(name, $"{parameters / 1e6:F0}M", $"{folderBytes / 1e6:N0} MB", $"{loadFp32:F1} s", $"{residentRatio:F2}×", $"{loadBf16:F1} s",
                $"{decodeFp32:F1}", $"{decodeBf16:F1}", $"{decodeBf16 / decodeFp32:F2}×", $"{train:N0}");
            Directory.Delete(folder, recursive: true);
        }
        AnsiConsole.Write(table);
        return 0;
    }

    private static double Decode(LanguageModel model, int vocabulary, double seconds)
    {
        var random = new Random(2);
        var generator = new TokenGenerator(model, endOfTextId: -1, padId: 0); // no token ends a row: every run decodes the full budget
        var prompt = new List<int[]> { Enumerable.Range(0, PromptLength).Select(_ => random.Next(3, vocabulary)).ToArray() };
        return Measure.UnitsPerSecond(() => { generator.Generate(prompt, GenerationOptions.Greedy(NewTokens)); return NewTokens; }, warmups: 1, seconds: seconds, minimumRuns: 2);
    }

    /// <summary>Prompt and target tokens per second: a decoder-only model reads both as one sequence, an encoder-decoder's
    /// encoder the prompt and its decoder the target.</summary>
    private static double Train(LanguageModel model, int vocabulary, double seconds)
    {
        var random = new Random(3);
        using var trainer = new LanguageModelTrainer(model, new TrainingOptions { TotalSteps = 1_000_000, WarmupSteps = 0 });
        int[] Tokens(int count) => Enumerable.Range(0, count).Select(_ => random.Next(3, vocabulary)).ToArray();
        return Measure.UnitsPerSecond(() =>
        {
            var examples = Enumerable.Range(0, TrainBatch).Select(_ => new LanguageModelExample(Tokens(TrainPrompt), Tokens(TrainTarget))).ToList();
            using var batch = model.Collate(examples, 0);
            trainer.TrainStep(batch);
            return batch.Tokens;
        }, warmups: 1, seconds: seconds, minimumRuns: 2);
    }

    /// <summary>The process's resident set (VmRSS), which counts libtorch's native allocations too.</summary>
    private static long ResidentBytes()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}
