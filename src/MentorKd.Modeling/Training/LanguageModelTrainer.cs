using MentorKd.Modeling.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Training;

/// <summary>
/// One optimiser step at a time for a <see cref="LanguageModel"/> of any family: AdamW with decoupled weight decay on
/// 2-D weights only, the warm-up + cosine schedule, gradient clipping. Each step runs in its own dispose
/// scope, which frees its tensors; no forced collection is needed (resident memory measured flat over 1,000
/// steps of a 4-layer model), and none is made, since it would stall every thread of a process hosting services.
/// </summary>
public sealed class LanguageModelTrainer : IDisposable
{
    private readonly LanguageModel _model;
    private readonly TrainingOptions _options;
    private readonly AdamWOptimizer _optimizer;
    private readonly LearningRateSchedule _schedule;
    private readonly List<Parameter> _parameters;

    public LanguageModelTrainer(LanguageModel model, TrainingOptions options)
    {
        options.Validate();
        _model = model;
        _options = options;
        _schedule = options.Schedule;
        _parameters = model.parameters().ToList();
        var named = model.named_parameters().ToList();
        _optimizer = new AdamWOptimizer(
            [
                new(named.Where(p => p.parameter.dim() >= 2).ToList(), options.WeightDecay),
                new(named.Where(p => p.parameter.dim() < 2).ToList(), 0.0),
            ],
            options.Beta1, options.Beta2);
    }

    /// <summary>Optimiser steps taken so far (restored with <see cref="LoadState"/>).</summary>
    public int Step { get; private set; }

    public double CurrentLearningRate => _schedule.At(Step);

    /// <summary>Next-token cross-entropy on the batch's target tokens.</summary>
    public float TrainStep(LanguageModelBatch batch) =>
        TrainStep(model => LanguageModelLoss.CrossEntropy(model.TeacherForced(batch), batch.Labels));

    /// <summary>One step on any differentiable loss of the model (e.g. cross-entropy mixed with distillation).</summary>
    public float TrainStep(Func<LanguageModel, Tensor> loss)
    {
        float value;
        using (var scope = NewDisposeScope())
        {
            _model.train();
            _model.zero_grad();
            var total = loss(_model);
            total.backward();
            if (_options.GradientClip > 0) nn.utils.clip_grad_norm_(_parameters, _options.GradientClip);
            _optimizer.Step(_schedule.At(Step));
            value = total.item<float>();
        }
        Step++;
        if (float.IsNaN(value) || float.IsInfinity(value))
            throw new InvalidOperationException($"Training diverged at step {Step}: loss is {value}. Lower the learning rate.");
        return value;
    }

    /// <summary>Mean loss over batches without updating the model.</summary>
    public float Evaluate(IEnumerable<LanguageModelBatch> batches)
    {
        double sum = 0;
        long tokens = 0;
        _model.eval();
        using var guard = no_grad();
        foreach (var batch in batches)
        {
            using var scope = NewDisposeScope();
            var loss = LanguageModelLoss.CrossEntropy(_model.TeacherForced(batch), batch.Labels).item<float>();
            sum += loss * batch.ScoredTokens;
            tokens += batch.ScoredTokens;
        }
        return tokens == 0 ? float.NaN : (float)(sum / tokens);
    }

    /// <summary>Saves the optimiser moments so a restarted job continues the same trajectory.</summary>
    public void SaveOptimizer(string path) => _optimizer.Save(path);

    /// <summary>Restores the optimiser saved at <paramref name="step"/>.</summary>
    public void RestoreOptimizer(string path, int step)
    {
        _optimizer.Restore(path);
        Step = step;
    }

    public void Dispose() => _optimizer.Dispose();
}
