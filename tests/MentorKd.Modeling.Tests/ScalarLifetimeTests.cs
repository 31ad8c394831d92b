using MentorKd.Modeling.Training;

namespace MentorKd.Modeling.Tests;

/// <summary>
/// TorchSharp frees a native Scalar in its finalizer, and many of its calls create one for a single native call
/// without keeping it alive: a collection on another thread during that call frees memory libtorch is reading
/// ("Expected false to be true … toFloat", or a wrong value read silently). These tests train on two threads while
/// a third collects without pause, and check that no API that does this is left unbanned.
/// </summary>
public class ScalarLifetimeTests
{
    [Fact]
    public void Two_models_train_side_by_side_while_a_third_thread_collects_without_pause()
    {
        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        }) { IsBackground = true };
        collector.Start();
        try
        {
            var losses = new float[2];
            var errors = new Exception?[2];
            var trainers = Enumerable.Range(0, 2).Select(i => new Thread(() =>
            {
                try { losses[i] = TrainTinyModel(seed: i + 1, steps: 400); }
                catch (Exception e) { errors[i] = e; }
            })).ToList();
            trainers.ForEach(t => t.Start());
            trainers.ForEach(t => t.Join());
            Assert.All(errors, e => Assert.Null(e));
            Assert.All(losses, loss => Assert.True(loss < 3.0f, $"loss should fall, ended at {loss}"));
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }
    }

    [Fact]
    public void Every_TorchSharp_api_that_frees_a_scalar_while_using_it_is_banned()
    {
        var bannedFile = Path.Combine(RepositoryRoot(), "build", "BannedSymbols.TorchSharp.txt");
        var banned = File.ReadAllLines(bannedFile).Select(l => l.Split(';')[0].Trim()).Where(l => l.Length > 0 && !l.StartsWith("//")).ToHashSet();
        var missing = TorchSharpScalarAudit.UnsafePublicApis().Where(id => !banned.Contains(id)).ToList();
        Assert.True(missing.Count == 0,
            $"{missing.Count} TorchSharp APIs create a Scalar that nothing keeps alive; add them to {bannedFile}:\n" + string.Join("\n", missing));
    }

    private static float TrainTinyModel(int seed, int steps)
    {
        using var model = TinyModels.Create(32, seed: seed, layers: 1, embedding: 32, context: 32);
        using var trainer = new LanguageModelTrainer(model, new TrainingOptions { LearningRate = 3e-3, WarmupSteps = 10, TotalSteps = steps });
        var random = new Random(seed);
        float loss = float.NaN;
        for (int step = 0; step < steps; step++)
        {
            var tokens = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 17).Select(i => 3 + (i + random.Next(2)) % 8).ToArray());
            using var batch = LanguageModelBatch.Collate(tokens.Select(t => new LanguageModelExample([], t)).ToList(), 1, 32);
            loss = trainer.TrainStep(batch);
        }
        return loss;
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "MentorKd.Platform.sln"))) return folder.FullName;
        throw new DirectoryNotFoundException("MentorKd.Platform.sln not found above the test binaries.");
    }
}
