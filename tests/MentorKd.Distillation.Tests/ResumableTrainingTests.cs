using MentorKd.Distillation.Training;
using MentorKd.Modeling.Model;

namespace MentorKd.Distillation.Tests;

public class ResumableTrainingTests
{
    [Fact]
    public async Task A_job_stopped_after_two_epochs_continues_from_its_checkpoint_and_matches_an_uninterrupted_one()
    {
        var (questions, tokenizer, examples) = await CoinFlipData.CreateAsync(seed: 3, count: 64, trainCount: 64, contextLength: 96);
        var options = new ReasoningTrainingOptions { Epochs = 4, BatchSize = 16, LearningRate = 3e-3, WarmupSteps = 2, EvalMaxNewTokens = 8 };
        var dev = questions.Take(4).ToList();

        // Every copy starts from the same weights, taken once: the global torch RNG is shared with tests
        // running in parallel, so re-seeding per copy would not guarantee identical starts.
        var config = GptConfig.Small(tokenizer.VocabSize, 1, 2, 32, 96, eosTokenId: tokenizer.EndOfTextId);
        using var initial = new GptLanguageModel(config);
        GptLanguageModel Fresh()
        {
            var model = new GptLanguageModel(config);
            model.load_state_dict(initial.state_dict());
            return model;
        }

        var straight = Path.Combine(Path.GetTempPath(), "mentorkd-tests", Guid.NewGuid().ToString("N"));
        using var uninterrupted = Fresh();
        var full = new ReasoningModelTrainer(options, tokenizer, dev, dev).Train("job", uninterrupted, examples, null, straight);

        // Stop the same job after its second epoch (as a killed process would), then start it again.
        var resumed = Path.Combine(Path.GetTempPath(), "mentorkd-tests", Guid.NewGuid().ToString("N"));
        using (var first = Fresh())
        using (var stop = new CancellationTokenSource())
        {
            Assert.Throws<OperationCanceledException>(() => new ReasoningModelTrainer(options, tokenizer, dev, dev)
                .Train("job", first, examples, null, resumed, onEpoch: e => { if (e.Epoch == 2) stop.Cancel(); }, cancellationToken: stop.Token));
        }
        using var second = Fresh();
        var continued = new ReasoningModelTrainer(options, tokenizer, dev, dev).Train("job", second, examples, null, resumed);

        Assert.Equal(full.Steps, continued.Steps);
        Assert.Equal([1, 2, 3, 4], continued.History.Select(h => h.Epoch));
        // Same data order, same optimiser state: the continued job trains exactly like the uninterrupted one.
        Assert.Equal(full.History[^1].TrainLoss, continued.History[^1].TrainLoss, 4);
    }
}
