using System.Diagnostics;
using System.Text.Json;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Evaluation;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Runtime;
using MentorKd.Modeling.Tokenization;
using MentorKd.Modeling.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Distillation.Training;

/// <summary>
/// Fine-tunes a model on rationale examples for a number of epochs — with or without the mentor's soft labels —
/// evaluating on dev and test after each epoch. Keeps <c>last/</c> (resumable: weights, optimiser, epoch) and
/// <c>best/</c> (best dev accuracy) under the job's folder; a job restarted after a crash continues from
/// <c>last/</c> and ends with the best-dev weights loaded into the model. A caller that trains in slices (a job
/// moved between machines) stops after any epoch's checkpoint through <c>afterCheckpoint</c>: the outcome is then
/// <see cref="TrainingOutcome.Paused"/> and the next call on the same folder continues.
/// </summary>
public sealed class ReasoningModelTrainer(ReasoningTrainingOptions options, ITokenizer tokenizer, IReadOnlyList<Question> dev, IReadOnlyList<Question> test)
{
    private const string HistoryFile = "history.jsonl";

    public sealed record Progress(string Job, int Epoch, int Epochs, int Step, int TotalSteps, double Loss, string Phase, double TokensPerSecond = 0);

    public TrainingOutcome Train(string job, LanguageModel model, IReadOnlyList<LanguageModelExample> examples, ISoftLabelSource? softLabels,
        string folder, Action<Progress>? progress = null, Action<EpochRecord>? onEpoch = null, CancellationToken cancellationToken = default,
        Func<int, bool>? afterCheckpoint = null)
    {
        if (examples.Count == 0) throw new InvalidOperationException($"{job}: no training examples (did every rationale get filtered out?).");
        int stepsPerEpoch = (examples.Count + options.BatchSize - 1) / options.BatchSize;
        long steps = (long)stepsPerEpoch * options.Epochs;
        if (steps > int.MaxValue)
            throw new ArgumentException($"{job}: {options.Epochs} epochs of {stepsPerEpoch} steps is more than a job can count ({int.MaxValue} steps).", nameof(options));
        int totalSteps = (int)steps;
        var mode = softLabels is null ? KnowledgeDistillationMode.None : options.KdMode;
        var device = model.Device;
        model.ComputeType = TorchRuntime.ResolveDType(options.MatmulDtype, "training.matmul_dtype") == ScalarType.BFloat16 ? ScalarType.BFloat16 : null;
        using var trainer = new LanguageModelTrainer(model, new TrainingOptions
        {
            LearningRate = options.LearningRate,
            WarmupSteps = Math.Min(options.WarmupSteps, totalSteps / 10),
            TotalSteps = totalSteps,
            WeightDecay = options.WeightDecay,
            GradientClip = options.GradientClip,
        });

        var lastFolder = Path.Combine(folder, "last");
        var bestFolder = Path.Combine(folder, "best");
        var history = new List<EpochRecord>();
        int firstEpoch = 1;
        double previousSeconds = 0;
        if (TrainingCheckpoint.ExistsIn(lastFolder))
        {
            using (var saved = ModelCheckpoints.LoadModel(lastFolder))
                model.load_state_dict(saved.state_dict());
            TrainingCheckpoint.RestoreOptimizer(lastFolder, trainer);
            history.AddRange(JsonLines.Read<EpochRecord>(Path.Combine(lastFolder, HistoryFile)));
            firstEpoch = trainer.Step / stepsPerEpoch + 1;
            previousSeconds = history.Sum(h => h.Seconds);
        }

        var clock = Stopwatch.StartNew();
        long tokens = 0;
        for (int epoch = firstEpoch; epoch <= options.Epochs; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            var order = Enumerable.Range(0, examples.Count).ToArray();
            new Random(options.Seed * 1009 + epoch).Shuffle(order);
            double lossSum = 0, hardSum = 0, softSum = 0;
            int batches = 0;
            var chunks = order.Chunk(options.BatchSize).ToList();
            LanguageModelBatch Batch(int index) => model.Collate(chunks[index].Select(i => examples[i]).ToList(), tokenizer.PadId, device);
            // Each batch is collated a step ahead, so the soft-label source can start on it while the current step runs.
            LanguageModelBatch? next = Batch(0);
            try
            {
                for (int index = 0; index < chunks.Count; index++)
                {
                    cancellationToken.ThrowIfCancellationRequested(); // last/ holds the previous epoch: a restart resumes there
                    using var batch = next!;
                    next = null;
                    if (index + 1 < chunks.Count)
                    {
                        next = Batch(index + 1);
                        softLabels?.Prefetch(next);
                    }
                    double hard = 0, soft = 0;
                    var loss = trainer.TrainStep(student =>
                    {
                        var logits = student.TeacherForced(batch);
                        var mentor = softLabels?.SoftLabels(batch);
                        var parts = DistillationLoss.Compute(logits, mentor, batch.Labels, batch.AfterPrompt, mode, options.KdMask, options.Lambda, options.Temperature, options.JsdBeta);
                        hard = parts.HardCrossEntropy.item<float>();
                        soft = parts.SoftTerm?.item<float>() ?? 0;
                        return parts.Total;
                    });
                    tokens += batch.Tokens;
                    lossSum += loss;
                    hardSum += hard;
                    softSum += soft;
                    batches++;
                    progress?.Invoke(new Progress(job, epoch, options.Epochs, trainer.Step, totalSteps, loss, "train", tokens / Math.Max(1e-9, clock.Elapsed.TotalSeconds)));
                }
            }
            finally
            {
                next?.Dispose(); // collated ahead, not trained on: the epoch was cancelled or failed
            }

            bool evaluate = epoch % options.EvalEveryEpochs == 0 || epoch == options.Epochs;
            if (!evaluate)
            {
                SaveLast(lastFolder, model, trainer, totalSteps, lossSum / batches, history);
                if (epoch < options.Epochs && afterCheckpoint?.Invoke(epoch) == false) return Paused(job, examples.Count, trainer.Step, previousSeconds + clock.Elapsed.TotalSeconds, history);
                continue;
            }

            progress?.Invoke(new Progress(job, epoch, options.Epochs, trainer.Step, totalSteps, lossSum / batches, "evaluate", tokens / Math.Max(1e-9, clock.Elapsed.TotalSeconds)));
            var devResult = Evaluator.Evaluate(model, tokenizer, dev, options.EvalMaxNewTokens, options.EvalBatchSize);
            var testResult = Evaluator.Evaluate(model, tokenizer, test, options.EvalMaxNewTokens, options.EvalBatchSize);
            var record = new EpochRecord(job, epoch, trainer.Step, lossSum / batches, hardSum / batches,
                mode == KnowledgeDistillationMode.None ? null : softSum / batches, devResult.Accuracy, testResult.Accuracy, epochClock.Elapsed.TotalSeconds);
            // Ties go to the later epoch: equally accurate on dev, but trained longer (and at 0% early on, the
            // first epoch would otherwise win by default).
            bool best = history.Count == 0 || record.DevAccuracy >= history.Max(h => h.DevAccuracy);
            history.Add(record);
            onEpoch?.Invoke(record);

            if (best) ModelCheckpoints.Save(model, tokenizer, bestFolder, metadata: new Dictionary<string, string> { ["epoch"] = epoch.ToString() });
            SaveLast(lastFolder, model, trainer, totalSteps, record.TrainLoss, history);
            if (epoch < options.Epochs && afterCheckpoint?.Invoke(epoch) == false) return Paused(job, examples.Count, trainer.Step, previousSeconds + clock.Elapsed.TotalSeconds, history);
        }

        // Model selection on dev: the job hands back its best-dev weights.
        using (var selected = ModelCheckpoints.LoadModel(bestFolder))
            model.load_state_dict(selected.state_dict());
        return new TrainingOutcome(job, examples.Count, trainer.Step, previousSeconds + clock.Elapsed.TotalSeconds, history)
        {
            MatmulDtype = TorchRuntime.DTypeName(model.ComputeType ?? ScalarType.Float32),
        };
    }

    private static TrainingOutcome Paused(string job, int examples, int steps, double seconds, List<EpochRecord> history) =>
        new(job, examples, steps, seconds, history, Paused: true);

    /// <summary>The resumable checkpoint: weights, optimiser, step and the evaluated history change together.</summary>
    private void SaveLast(string folder, LanguageModel model, LanguageModelTrainer trainer, int totalSteps, double loss, List<EpochRecord> history) =>
        TrainingCheckpoint.Save(folder, model, tokenizer, trainer,
            new TrainingCheckpoint.State(trainer.Step, totalSteps, (float)loss, null, options.Seed),
            staging => JsonLines.Write(Path.Combine(staging, HistoryFile), history));
}
