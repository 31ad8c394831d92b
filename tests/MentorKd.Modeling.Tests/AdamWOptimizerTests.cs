using MentorKd.Modeling.Model;
using MentorKd.Modeling.Training;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Tests;

public class AdamWOptimizerTests
{
    [Fact]
    public void Updates_match_torch_optim_AdamW_with_decoupled_decay_on_matrices_only()
    {
        using var ours = TinyModels.Create(24, seed: 5, layers: 1, embedding: 32, context: 16);
        using var reference = TinyModels.Create(24, seed: 5, layers: 1, embedding: 32, context: 16);
        reference.load_state_dict(ours.state_dict());
        var named = ours.named_parameters().ToList();
        using var optimizer = new AdamWOptimizer(
            [new(named.Where(p => p.parameter.dim() >= 2).ToList(), 0.1), new(named.Where(p => p.parameter.dim() < 2).ToList(), 0.0)],
            beta1: 0.9, beta2: 0.95);
        var referenceNamed = reference.named_parameters().ToList();
        using var torchAdamW = optim.AdamW(
            [
                new TorchSharp.Modules.AdamW.ParamGroup(referenceNamed.Where(p => p.parameter.dim() >= 2).Select(p => p.parameter), lr: 0.01, beta1: 0.9, beta2: 0.95, weight_decay: 0.1),
                new TorchSharp.Modules.AdamW.ParamGroup(referenceNamed.Where(p => p.parameter.dim() < 2).Select(p => p.parameter), lr: 0.01, beta1: 0.9, beta2: 0.95, weight_decay: 0.0),
            ], lr: 0.01, beta1: 0.9, beta2: 0.95);

        var random = new Random(2);
        for (int step = 0; step < 5; step++)
        {
            using var batch = RandomBatch(random);
            using var scope = NewDisposeScope();
            Backward(ours, batch);
            optimizer.Step(0.01);
            torchAdamW.zero_grad();
            Backward(reference, batch);
#pragma warning disable RS0030 // the reference implementation, on one thread with no collector running
            torchAdamW.step();
#pragma warning restore RS0030
        }

        var expected = reference.state_dict();
        foreach (var (name, tensor) in ours.state_dict())
            Assert.True(tensor.allclose(expected[name], rtol: 1e-5, atol: 1e-7), $"{name} differs from torch.optim.AdamW's update");
    }

    [Fact]
    public void Restored_state_continues_exactly_and_a_mismatched_model_is_named()
    {
        using var model = TinyModels.Create(24, seed: 7, layers: 1, embedding: 32, context: 16);
        using var twin = TinyModels.Create(24, seed: 7, layers: 1, embedding: 32, context: 16);
        twin.load_state_dict(model.state_dict());
        var path = Path.Combine(TinyModels.TempDirectory(), "optimizer.safetensors");
        using var first = Optimizer(model);
        Train(model, first, steps: 3, seed: 1);
        first.Save(path);
        Train(model, first, steps: 2, seed: 2);

        // The twin takes the same first three steps with its own optimiser, then continues from the saved state.
        using var warmup = Optimizer(twin);
        Train(twin, warmup, steps: 3, seed: 1);
        using var restored = Optimizer(twin);
        restored.Restore(path);
        Assert.Equal(3, restored.Steps);
        Train(twin, restored, steps: 2, seed: 2);
        var expected = model.state_dict();
        foreach (var (name, tensor) in twin.state_dict()) Assert.True(tensor.allclose(expected[name], rtol: 0, atol: 0), $"{name} diverged after restore");

        using var wider = TinyModels.Create(24, seed: 7, layers: 1, embedding: 48, context: 16);
        using var wrong = Optimizer(wider);
        var error = Assert.Throws<InvalidDataException>(() => wrong.Restore(path));
        Assert.Contains("shape", error.Message);
    }

    private static AdamWOptimizer Optimizer(GptLanguageModel model) =>
        new([new(model.named_parameters().ToList(), 0.01)], beta1: 0.9, beta2: 0.95);

    private static void Train(GptLanguageModel model, AdamWOptimizer optimizer, int steps, int seed)
    {
        var random = new Random(seed);
        for (int step = 0; step < steps; step++)
        {
            using var batch = RandomBatch(random);
            using var scope = NewDisposeScope();
            Backward(model, batch);
            optimizer.Step(0.01);
        }
    }

    private static LanguageModelBatch RandomBatch(Random random) => LanguageModelBatch.Collate(
        Enumerable.Range(0, 4).Select(_ => new LanguageModelExample([], Enumerable.Range(0, 12).Select(_ => random.Next(3, 24)).ToArray())).ToList(), 1, 16);

    /// <summary>Fresh gradients of the batch's cross-entropy on every parameter.</summary>
    private static void Backward(GptLanguageModel model, LanguageModelBatch batch)
    {
        model.zero_grad();
        LanguageModelLoss.CrossEntropy(model.forward(batch.InputIds), batch.Labels).backward();
    }
}
