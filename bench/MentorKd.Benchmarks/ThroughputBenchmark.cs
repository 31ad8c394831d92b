using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Benchmarks;

/// <summary>Training and generation throughput of one model size.</summary>
internal sealed record ThroughputResult(string Size, long Parameters, double TrainTokensPerSecond, double TrainMixedTokensPerSecond,
    double Batch1NoCache, double Batch1Cache, double Batch16NoCache, double Batch16Cache, double Batch16CacheBf16);

internal static class ThroughputBenchmark
{
    private const int Vocab = 512, PromptLength = 32, NewTokens = 64, TrainBatch = 16;

    public static ThroughputResult Run(string name, GptConfig config, double seconds)
    {
        manual_seed(1);
        using var model = new GptLanguageModel(config);
        var random = new Random(1);

        double Train()
        {
            using var trainer = new LanguageModelTrainer(model, new TrainingOptions { TotalSteps = 1_000_000, WarmupSteps = 0 });
            return Measure.UnitsPerSecond(() =>
            {
                var examples = Enumerable.Range(0, TrainBatch)
                    .Select(_ => new LanguageModelExample([], Enumerable.Range(0, config.ContextLength).Select(_ => random.Next(3, Vocab)).ToArray())).ToList();
                using var batch = LanguageModelBatch.Collate(examples, 1, config.ContextLength);
                trainer.TrainStep(batch);
                return batch.Tokens;
            }, seconds: seconds);
        }
        double train = Train();
        model.ComputeType = ScalarType.BFloat16; // mixed precision: bf16 products over the fp32 weights
        double trainMixed = Train();
        model.ComputeType = null;

        double Generate(GptLanguageModel lm, int batch, bool cache)
        {
            // An end-of-text id no token can take: every row generates the full budget, so runs compare like with like.
            var generator = new TokenGenerator(lm, endOfTextId: -1, padId: 1);
            var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, PromptLength).Select(_ => random.Next(3, Vocab)).ToArray()).ToList();
            var options = new GenerationOptions { MaxNewTokens = NewTokens, UseCache = cache };
            return Measure.UnitsPerSecond(() => { generator.Generate(prompts, options); return (long)batch * NewTokens; }, warmups: 1, seconds: seconds);
        }

        var b1NoCache = Generate(model, 1, cache: false);
        var b1Cache = Generate(model, 1, cache: true);
        var b16NoCache = Generate(model, 16, cache: false);
        var b16Cache = Generate(model, 16, cache: true);
        model.to(ScalarType.BFloat16);
        var b16Bf16 = Generate(model, 16, cache: true);
        return new ThroughputResult(name, model.ParameterCount, train, trainMixed, b1NoCache, b1Cache, b16NoCache, b16Cache, b16Bf16);
    }
}
