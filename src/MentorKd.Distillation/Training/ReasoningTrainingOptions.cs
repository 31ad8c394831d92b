namespace MentorKd.Distillation.Training;

/// <summary>Hyper-parameters of one fine-tuning job (mentor or student arm). Every student arm of a run shares them.</summary>
public sealed record ReasoningTrainingOptions
{
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 16;
    public double LearningRate { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 0.01;
    public int WarmupSteps { get; init; } = 50;
    public double GradientClip { get; init; } = 1.0;
    public int Seed { get; init; } = 42;
    public KnowledgeDistillationMode KdMode { get; init; } = KnowledgeDistillationMode.None;
    public KnowledgeDistillationMask KdMask { get; init; } = KnowledgeDistillationMask.Clean;
    /// <summary>λ: weight of the soft-label term.</summary>
    public double Lambda { get; init; } = 0.3;
    /// <summary>T: softmax temperature of the KL term.</summary>
    public double Temperature { get; init; } = 2.0;
    /// <summary>β of the jsd mode's mixture M = β·mentor + (1-β)·student, in (0, 1).</summary>
    public double JsdBeta { get; init; } = 0.5;
    public int EvalMaxNewTokens { get; init; } = 96;
    /// <summary>Evaluate (and consider for model selection) every this many epochs, and always after the last.</summary>
    public int EvalEveryEpochs { get; init; } = 1;
    public int EvalBatchSize { get; init; } = 64;
    /// <summary>The type training's matrix products run in: "auto" (the default: "bfloat16" where the trainer's CPU computes
    /// bf16 natively, AVX512_BF16 or AMX, "float32" elsewhere), "bfloat16" (mixed precision: bf16 products through oneDNN
    /// over fp32 weights, with fp32 norms, attention, softmax and losses; about twice the speed of fp32 on a CPU with bf16
    /// instructions, several times slower on one without) or "float32" (every product in fp32).</summary>
    public string MatmulDtype { get; init; } = "auto";
}
