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
}

/// <summary>Which positions the soft-label term averages over.</summary>
public enum KnowledgeDistillationMask
{
    /// <summary>Every position after the prompt, padding included — what the reference code does (labels != 0 is always true).</summary>
    Faithful,
    /// <summary>Only positions that predict a real target token.</summary>
    Clean,
}
