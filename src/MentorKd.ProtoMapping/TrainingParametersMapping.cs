using MentorKd.Distillation.Training;
using Proto = MentorKd.Protos.V1;

namespace MentorKd.ProtoMapping;

/// <summary>Training hyper-parameters between the contract's message and the library's options; zeros mean the defaults.</summary>
public static class TrainingParametersMapping
{
    private static readonly ReasoningTrainingOptions Defaults = new();

    public static ReasoningTrainingOptions ToOptions(this Proto.TrainingParameters p) => new()
    {
        Epochs = p.Epochs,
        BatchSize = p.BatchSize,
        LearningRate = p.LearningRate,
        WeightDecay = p.WeightDecay,
        WarmupSteps = p.WarmupSteps,
        GradientClip = p.GradientClip is 0 ? Defaults.GradientClip : p.GradientClip,
        Seed = p.Seed,
        KdMode = p.KdMode switch
        {
            Proto.KdMode.Kl => KnowledgeDistillationMode.Kl,
            Proto.KdMode.Mse => KnowledgeDistillationMode.Mse,
            Proto.KdMode.Ce => KnowledgeDistillationMode.Ce,
            Proto.KdMode.ReverseKl => KnowledgeDistillationMode.ReverseKl,
            Proto.KdMode.Jsd => KnowledgeDistillationMode.Jsd,
            _ => KnowledgeDistillationMode.None,
        },
        KdMask = p.KdMask == Proto.KdMask.Faithful ? KnowledgeDistillationMask.Faithful : KnowledgeDistillationMask.Clean,
        Lambda = p.Lambda,
        Temperature = p.Temperature,
        JsdBeta = p.JsdBeta is 0 ? Defaults.JsdBeta : p.JsdBeta,
        EvalMaxNewTokens = p.EvalMaxNewTokens is 0 ? Defaults.EvalMaxNewTokens : p.EvalMaxNewTokens,
        EvalEveryEpochs = p.EvalEveryEpochs is 0 ? 1 : p.EvalEveryEpochs,
        EvalBatchSize = p.EvalBatchSize is 0 ? Defaults.EvalBatchSize : p.EvalBatchSize,
        MatmulDtype = p.MatmulDtype is "" ? Defaults.MatmulDtype : p.MatmulDtype,
    };

    public static Proto.TrainingParameters ToProto(this ReasoningTrainingOptions o) => new()
    {
        Epochs = o.Epochs,
        BatchSize = o.BatchSize,
        LearningRate = o.LearningRate,
        WeightDecay = o.WeightDecay,
        WarmupSteps = o.WarmupSteps,
        GradientClip = o.GradientClip,
        Seed = o.Seed,
        KdMode = o.KdMode switch
        {
            KnowledgeDistillationMode.Kl => Proto.KdMode.Kl,
            KnowledgeDistillationMode.Mse => Proto.KdMode.Mse,
            KnowledgeDistillationMode.Ce => Proto.KdMode.Ce,
            KnowledgeDistillationMode.ReverseKl => Proto.KdMode.ReverseKl,
            KnowledgeDistillationMode.Jsd => Proto.KdMode.Jsd,
            _ => Proto.KdMode.None,
        },
        KdMask = o.KdMask == KnowledgeDistillationMask.Faithful ? Proto.KdMask.Faithful : Proto.KdMask.Clean,
        Lambda = o.Lambda,
        Temperature = o.Temperature,
        JsdBeta = o.JsdBeta,
        EvalMaxNewTokens = o.EvalMaxNewTokens,
        EvalEveryEpochs = o.EvalEveryEpochs,
        EvalBatchSize = o.EvalBatchSize,
        MatmulDtype = o.MatmulDtype,
    };
}
