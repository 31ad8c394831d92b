using System.Diagnostics;
using MentorKd.Modeling.Training;
using TorchSharp;
using Xunit.Abstractions;

namespace MentorKd.Modeling.Tests;

/// <summary>Resident memory is the whole process's: measured with no other test class running beside it.</summary>
[CollectionDefinition(nameof(MemoryTests), DisableParallelization = true)]
public sealed class MemoryTestsRunAlone;

[Collection(nameof(MemoryTests))]
public class MemoryTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)] // mixed precision: bf16 products over fp32 weights
    public void Live_tensors_and_resident_memory_stay_flat_over_1000_training_steps(bool mixedPrecision)
    {
        using var model = TinyModels.Create(64, layers: 2, embedding: 64, context: 64);
        if (mixedPrecision) model.ComputeType = TorchSharp.torch.ScalarType.BFloat16;
        using var trainer = new LanguageModelTrainer(model, new TrainingOptions { LearningRate = 1e-3, TotalSteps = 1020 });
        var random = new Random(1);
        LanguageModelBatch Batch() => LanguageModelBatch.Collate(
            Enumerable.Range(0, 8).Select(_ => new LanguageModelExample([], Enumerable.Range(0, 64).Select(_ => random.Next(3, 64)).ToArray())).ToList(), 1, 64);

        void Steps(int count)
        {
            for (int i = 0; i < count; i++) { using var batch = Batch(); trainer.TrainStep(batch); }
        }

        Steps(20); // warm-up: optimizer state and allocator pools settle
        long liveAfterWarmup = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long rssAfterWarmup = Process.GetCurrentProcess().WorkingSet64;
        Steps(1000);
        long liveAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long rssAfter = Process.GetCurrentProcess().WorkingSet64;

        Assert.True(liveAfter - liveAfterWarmup <= 0, $"live tensors grew from {liveAfterWarmup} to {liveAfter}");
        double growthMb = (rssAfter - rssAfterWarmup) / 1e6;
        output.WriteLine($"live tensors {liveAfterWarmup} -> {liveAfter}; resident {rssAfterWarmup / 1e6:F1} -> {rssAfter / 1e6:F1} MB");
        Assert.True(growthMb < 40, $"resident memory grew {growthMb:F1} MB over 1000 steps");
    }
}
