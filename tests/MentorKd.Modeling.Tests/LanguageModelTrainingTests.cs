using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Runtime;
using MentorKd.Modeling.Training;

namespace MentorKd.Modeling.Tests;

public class LanguageModelTrainingTests
{
    [Fact]
    public void Loss_falls_on_a_repeated_rhyme_and_the_model_then_completes_it()
    {
        var tokenizer = TinyModels.RhymeTokenizer();
        using var model = TinyModels.Create(tokenizer.VocabSize);
        var corpus = tokenizer.Encode(string.Concat(Enumerable.Repeat(TinyModels.Rhyme, 8)));
        var random = new Random(3);
        LanguageModelBatch Sample() => LanguageModelBatch.Collate(
            Enumerable.Range(0, 16).Select(_ => { int at = random.Next(corpus.Length - 33); return new LanguageModelExample([], corpus[at..(at + 33)]); }).ToList(),
            tokenizer.PadId, 64);

        using var trainer = new LanguageModelTrainer(model, new TrainingOptions { LearningRate = 3e-3, WarmupSteps = 20, TotalSteps = 300 });
        var losses = new List<float>();
        for (int step = 0; step < 300; step++)
        {
            using var batch = Sample();
            losses.Add(trainer.TrainStep(batch));
        }

        float first = losses.Take(10).Average(), last = losses.TakeLast(10).Average();
        Assert.True(first > 2.0f, $"an untrained model should be near uniform, got {first}");
        Assert.True(last < 0.3f, $"loss should fall below 0.3 on a memorisable rhyme, went {first} -> {last}");

        var completion = new TextGenerator(model, tokenizer).Complete("the dog dug", GenerationOptions.Greedy(13));
        Assert.Equal(" in the fog. ", completion);
    }

    [Fact]
    public void Prompt_and_padding_positions_are_not_scored()
    {
        using var batch = LanguageModelBatch.Collate([new([5, 6, 7], [8, 9, 0]), new([5], [8])], padId: 1, maxLength: 16);
        Assert.Equal(new long[] { 5, 6, 7, 8, 9, 0, 5, 8, 1, 1, 1, 1 }, batch.InputIds.data<long>().ToArray());
        Assert.Equal(new long[] { -100, -100, -100, 8, 9, 0, -100, 8, -100, -100, -100, -100 }, batch.Labels.data<long>().ToArray());
        Assert.Equal(4, batch.ScoredTokens);
    }

    [Fact]
    public void Weight_decay_applies_to_matrices_only()
    {
        using var model = TinyModels.Create(20);
        var zeroLearningRate = new TrainingOptions { LearningRate = 1e-9, WarmupSteps = 0, TotalSteps = 1, WeightDecay = 0.5, GradientClip = 0 };
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        using var trainer = new LanguageModelTrainer(model, zeroLearningRate with { LearningRate = 0.1 });
        // A loss with zero gradient (but a gradient for every parameter) isolates the decoupled decay: W <- W - lr·wd·W.
        trainer.TrainStep(m => m.parameters().Select(p => p.sum()).Aggregate((a, b) => a.Plus(b)).Times(0));
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (parameter.dim() >= 2) Assert.True(parameter.detach().allclose(before[name].Times(0.95), rtol: 1e-5, atol: 1e-8), $"{name} (2-D) must decay by lr·wd = 5%");
            else Assert.True(parameter.detach().allclose(before[name]), $"{name} (1-D) must not decay");
        }
    }

    [Fact]
    public void Schedule_warms_up_then_decays_to_the_floor()
    {
        var schedule = new LearningRateSchedule(1.0, WarmupSteps: 10, TotalSteps: 110, MinimumRatio: 0.1);
        Assert.Equal(0.1, schedule.At(0), 6);
        Assert.Equal(1.0, schedule.At(9), 6);
        Assert.Equal(1.0, schedule.At(10), 6);
        Assert.Equal(0.55, schedule.At(60), 6);
        Assert.Equal(0.1, schedule.At(110), 6);
        Assert.Equal(0.1, schedule.At(500), 6);
    }
}
