using MentorKd.Distillation.Evaluation;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Model;

namespace MentorKd.Distillation.Tests;

public class EvaluatorTests
{
    [Fact]
    public async Task Sampled_answers_are_counted_per_question_reproducible_from_their_seed_and_greedy_ones_are_one_each()
    {
        var (questions, tokenizer, examples) = await CoinFlipData.CreateAsync(seed: 5, count: 48, trainCount: 48, contextLength: 96);
        using var model = new GptLanguageModel(GptConfig.Small(tokenizer.VocabSize, 1, 2, 32, 96, eosTokenId: tokenizer.EndOfTextId));
        // A little training, so that answers are neither all right nor all wrong.
        var options = new ReasoningTrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 3e-3, WarmupSteps = 2, EvalMaxNewTokens = 8 };
        new ReasoningModelTrainer(options, tokenizer, [], []).Train("evaluator-test", model, examples, null,
            Path.Combine(Path.GetTempPath(), "mentorkd-tests", Guid.NewGuid().ToString("N")));
        var evaluated = questions.Take(16).ToList();

        var greedy = Evaluator.Evaluate(model, tokenizer, evaluated, 40, 8);
        Assert.All(greedy.Examples, e => Assert.Equal((1, e.Correct ? 1 : 0), (e.Samples, e.SamplesCorrect)));

        var sampling = new AnswerSampling(6, 1.0, Seed: 11);
        var sampled = Evaluator.Evaluate(model, tokenizer, evaluated, 40, 8, sampling);
        Assert.Equal(16, sampled.Total);
        Assert.All(sampled.Examples, e =>
        {
            Assert.Equal(6, e.Samples);
            Assert.InRange(e.SamplesCorrect, 0, 6);
            Assert.Equal(e.SamplesCorrect >= 3, e.Correct); // at least half right
            Assert.Equal(e.SamplesCorrect / 6.0, e.CorrectShare);
        });
        Assert.Equal(sampled.Examples.Count(e => e.Correct), sampled.Correct);

        // The same seed gives the same answers; another seed other ones.
        var again = Evaluator.Evaluate(model, tokenizer, evaluated, 40, 8, sampling);
        Assert.Equal(sampled.Examples.Select(e => (e.Output, e.SamplesCorrect)), again.Examples.Select(e => (e.Output, e.SamplesCorrect)));
        var other = Evaluator.Evaluate(model, tokenizer, evaluated, 40, 8, sampling with { Seed = 12 });
        Assert.NotEqual(sampled.Examples.Select(e => e.Output), other.Examples.Select(e => e.Output));
    }
}
