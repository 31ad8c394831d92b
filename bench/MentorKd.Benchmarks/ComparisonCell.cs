using TorchSharp;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Runtime;
using MentorKd.Modeling.Training;
using static TorchSharp.torch;

namespace MentorKd.Benchmarks;

/// <summary>What one cell of the PyTorch comparison measured, in either implementation (one JSON line).</summary>
internal sealed record CellResult(double TokensPerSecond, double SecondsPerRun, double PeakRssMb, long Parameters);

/// <summary>
/// The .NET side of one cell of <c>make bench-compare</c>, in a process of its own so its peak resident memory is its
/// own: the project's model, trainer, distillation loss and generator on the token file the PyTorch side reads
/// (bench/pytorch/gpt_cells.py, which mirrors every choice here).
/// </summary>
internal static class ComparisonCell
{
    public const string Mode = "compare-cell";
    public static readonly IReadOnlyDictionary<string, GptConfig> Shapes = new Dictionary<string, GptConfig>
    {
        ["1M"] = GptConfig.Small(Vocab, layers: 4, heads: 4, embedding: 144, contextLength: 128),
        ["10M"] = GptConfig.Small(Vocab, layers: 6, heads: 6, embedding: 384, contextLength: 256),
    };
    public static readonly string[] Cells = ["train", "kd", "decode-b1", "decode-b16"];
    public const int Vocab = 512;
    private const int Batch = 16, Prompt = 32, NewTokens = 64;
    private const double Lambda = 0.5, Temperature = 2.0;

    /// <summary>Arguments: shape, cell, precision (fp32 | bf16), token file, seconds, threads.</summary>
    public static int Run(string[] args)
    {
        var (shape, cell, precision, data, seconds, threads) =
            (args[1], args[2], args[3], args[4], double.Parse(args[5], CultureInfo.InvariantCulture), int.Parse(args[6], CultureInfo.InvariantCulture));
        TorchRuntime.SetThreads(threads);
        var result = Measure(Shapes[shape], cell, precision == "bf16", ReadRows(data, Shapes[shape].ContextLength), seconds);
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    private static CellResult Measure(GptConfig config, string cell, bool bf16, int[][] rows, double seconds)
    {
        manual_seed(1);
        using var model = new GptLanguageModel(config);
        int next = 0;
        LanguageModelBatch NextBatch()
        {
            int start = next % (rows.Length - Batch + 1);
            next += Batch;
            return LanguageModelBatch.Collate(rows[start..(start + Batch)].Select(r => new LanguageModelExample([], r)).ToList(), 1, config.ContextLength);
        }

        double tokensPerSecond, secondsPerRun;
        if (cell is "train" or "kd")
        {
            // Mixed precision: the student's products in bf16 over fp32 weights; a frozen mentor wholly in bf16.
            if (bf16) model.ComputeType = ScalarType.BFloat16;
            using var mentor = cell == "kd" ? new GptLanguageModel(config) : null;
            if (mentor is not null && bf16) mentor.to(ScalarType.BFloat16);
            var softLabels = mentor is null ? null : new InProcessMentorSoftLabels(mentor, "mentor");
            using var trainer = new LanguageModelTrainer(model, new TrainingOptions { TotalSteps = 1_000_000, WarmupSteps = 0 });
            (tokensPerSecond, secondsPerRun) = Benchmarks.Measure.PerSecondAndPerRun(() =>
            {
                using var batch = NextBatch();
                if (softLabels is null) trainer.TrainStep(batch);
                else trainer.TrainStep(student => DistillationLoss.Compute(student.TeacherForced(batch), softLabels.SoftLabels(batch), batch.Labels,
                    batch.AfterPrompt, KnowledgeDistillationMode.Kl, KnowledgeDistillationMask.Faithful, Lambda, Temperature).Total);
                return batch.Tokens;
            }, seconds: seconds);
        }
        else
        {
            if (bf16) model.to(ScalarType.BFloat16);
            int batch = cell == "decode-b1" ? 1 : Batch;
            var prompts = rows.Take(batch).Select(r => r[..Prompt]).ToList();
            // An end-of-text id no token can take: every row generates the full budget, as the PyTorch side does.
            var generator = new TokenGenerator(model, endOfTextId: -1, padId: 1);
            var options = new GenerationOptions { MaxNewTokens = NewTokens, UseCache = true };
            (tokensPerSecond, secondsPerRun) = Benchmarks.Measure.PerSecondAndPerRun(() => { generator.Generate(prompts, options); return (long)batch * NewTokens; },
                warmups: 1, seconds: seconds);
        }
        return new CellResult(tokensPerSecond, secondsPerRun, Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, model.ParameterCount);
    }

    /// <summary>The token file (little-endian int32) cut into rows of the context's length.</summary>
    private static int[][] ReadRows(string path, int context)
    {
        var bytes = File.ReadAllBytes(path);
        var tokens = new int[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, tokens, 0, tokens.Length * 4);
        return tokens.Chunk(context).Where(r => r.Length == context).ToArray();
    }
}
