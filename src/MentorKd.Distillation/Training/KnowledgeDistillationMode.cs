namespace MentorKd.Distillation.Training;

/// <summary>How the mentor's soft labels enter the student's loss (reference modes of mentor_kd.py).</summary>
public enum KnowledgeDistillationMode
{
    /// <summary>Hard labels only: the "w/o soft labels" ablation and Fine-tune-CoT.</summary>
    None,
    /// <summary>(1-λ)·CE + λ·KL(mentor ‖ student) at temperature T, averaged over selected positions, no T² factor.</summary>
    Kl,
    /// <summary>(1-λ)·CE + λ·MSE between raw logits.</summary>
    Mse,
    /// <summary>Soft cross-entropy −Σ p_mentor · log p_student alone (no hard CE, no temperature).</summary>
    Ce,
    /// <summary>(1-λ)·CE + λ·KL(student ‖ mentor) at T: mode-seeking, the student is not pushed to cover the mentor's tail.</summary>
    ReverseKl,
    /// <summary>(1-λ)·CE + λ·JSD_β at T: β·KL(mentor ‖ M) + (1-β)·KL(student ‖ M) with M = β·mentor + (1-β)·student
    /// (generalized Jensen-Shannon divergence, as in GKD; β = 0.5 is the symmetric JSD), β = <c>jsd_beta</c>.</summary>
    Jsd,
}

/// <summary>Which positions the soft-label term averages over.</summary>
/// <summary>What a mode needs from the mentor.</summary>
public static class KnowledgeDistillationModes
{
    /// <summary>Modes that only need the mentor's distribution at T, so log-probabilities (the mentor-server's top k, a
    /// store) serve them as well as logits; mse compares logits and ce takes the softmax at T = 1.</summary>
    public static bool NeedsOnlyTheDistribution(KnowledgeDistillationMode mode) =>
        mode is KnowledgeDistillationMode.Kl or KnowledgeDistillationMode.ReverseKl or KnowledgeDistillationMode.Jsd;
}

public enum KnowledgeDistillationMask
{
    /// <summary>Every position after the prompt, padding included — what the reference code does (labels != 0 is always true).</summary>
    Faithful,
    /// <summary>Only positions that predict a real target token.</summary>
    Clean,
}
