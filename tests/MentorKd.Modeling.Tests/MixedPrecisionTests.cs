using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Tests;

/// <summary>Mixed precision: bf16 matrix products over fp32 weights (<see cref="LanguageModel.ComputeType"/>).</summary>
public class MixedPrecisionTests
{
    public static TheoryData<string> Families => ["gpt2", "llama", "t5"];

    private static LanguageModel Create(string family) => family switch
    {
        "gpt2" => TinyModels.Create(40, seed: 5),
        "llama" => new LlamaLanguageModel(LlamaModelTests.Tiny("llama", tied: false, keyValueHeads: 2), new Generator(5)),
        _ => new T5LanguageModel(T5ModelTests.Tiny(v11: true), new Generator(5)),
    };

    private static Tensor Logits(LanguageModel model)
    {
        using var ids = tensor(new long[] { 3, 4, 5, 6, 7, 8, 9, 10 }).unsqueeze(0);
        using var encoder = tensor(new long[] { 11, 12, 13, 14 }).unsqueeze(0);
        return model.IsEncoderDecoder ? model.Logits(ids, encoder) : model.Logits(ids);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Bf16_products_round_the_logits_and_nothing_else(string family)
    {
        using var model = Create(family);
        model.eval();
        using var noGrad = no_grad();
        using var fp32 = Logits(model);
        model.ComputeType = ScalarType.BFloat16;
        using var mixed = Logits(model);

        Assert.Equal(ScalarType.Float32, mixed.dtype);
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        double difference = (mixed - fp32).abs().max().item<float>(), scale = fp32.abs().max().item<float>();
        // bf16 keeps 8 bits of mantissa: the products differ (so the bf16 path ran), by about its rounding only.
        Assert.True(difference > 0, "the bf16 products changed nothing: the fp32 path ran");
        Assert.True(difference < 0.05 * scale, $"logits moved by {difference} against a scale of {scale}");

        model.ComputeType = null;
        using var back = Logits(model);
        Assert.True(back.allclose(fp32, rtol: 0, atol: 0), "clearing the compute type should restore the fp32 products exactly");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Gradients_of_bf16_products_reach_every_fp32_weight(string family)
    {
        using var model = Create(family);
        model.ComputeType = ScalarType.BFloat16;
        model.train();
        using var logits = Logits(model);
        using var loss = (logits * logits).mean();
        loss.backward();
        foreach (var (name, parameter) in model.named_parameters())
        {
            Assert.True(parameter.grad is not null, $"{name} got no gradient");
            Assert.Equal(ScalarType.Float32, parameter.grad!.dtype);
        }
        // Every projection's weight has a gradient of its own, not zeros.
        Assert.All(model.named_parameters().Where(p => p.name.EndsWith(".weight") && p.parameter.dim() == 2),
            p => Assert.True(p.parameter.grad!.abs().sum().item<float>() > 0, $"{p.name}'s gradient is zero"));
    }

    [Fact]
    public void Mixed_precision_training_learns_the_rhyme_as_fp32_does()
    {
        var tokenizer = TinyModels.RhymeTokenizer();
        using var model = TinyModels.Create(tokenizer.VocabSize);
        model.ComputeType = ScalarType.BFloat16;
        var corpus = tokenizer.Encode(string.Concat(Enumerable.Repeat(TinyModels.Rhyme, 8)));
        var random = new Random(3);
        using var trainer = new LanguageModelTrainer(model, new TrainingOptions { LearningRate = 3e-3, WarmupSteps = 20, TotalSteps = 300 });
        var losses = new List<float>();
        for (int step = 0; step < 300; step++)
        {
            using var batch = LanguageModelBatch.Collate(
                Enumerable.Range(0, 16).Select(_ => { int at = random.Next(corpus.Length - 33); return new LanguageModelExample([], corpus[at..(at + 33)]); }).ToList(),
                tokenizer.PadId, 64);
            losses.Add(trainer.TrainStep(batch));
        }

        float last = losses.TakeLast(10).Average();
        Assert.True(last < 0.3f, $"loss should fall below 0.3 on a memorisable rhyme (as it does in fp32), went {losses.Take(10).Average()} -> {last}");
        Assert.Equal(" in the fog. ", new TextGenerator(model, tokenizer).Complete("the dog dug", GenerationOptions.Greedy(13)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Decoding_through_a_growing_cache_matches_the_whole_sequence(bool bf16)
    {
        // 150 positions: the cache's buffers (64 positions at first) grow twice on the way.
        using var model = TinyModels.Create(40, seed: 9, context: 160);
        if (bf16) model.to(ScalarType.BFloat16);
        model.eval();
        using var guard = inference_mode();
        var random = new Random(4);
        using var ids = tensor(Enumerable.Range(0, 150).Select(_ => (long)random.Next(2, 40)).ToArray()).unsqueeze(0);
        using var whole = model.forward(ids).to(ScalarType.Float32);

        using var cache = new KeyValueCache(model.LayerCount);
        using var prompt = model.forward(ids[.., ..5], cache: cache);
        for (int position = 5; position < 150; position++)
        {
            using var scope = NewDisposeScope();
            var step = model.forward(ids[.., position..(position + 1)], cache: cache).to(ScalarType.Float32);
            var expected = whole[.., position..(position + 1)];
            double tolerance = bf16 ? 0.05 * expected.abs().max().item<float>() : 1e-4;
            Assert.True(step.allclose(expected, rtol: 0, atol: tolerance), $"position {position}: cached logits differ from the whole sequence's");
        }
        Assert.Equal(150, cache.Length);
    }
}
