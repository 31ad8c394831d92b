using MentorKd.Modeling.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Distillation.Training;

/// <summary>
/// The student's loss: hard-label cross-entropy mixed with a soft-label term from the mentor on the same
/// teacher-forced sequence (its logits, or its log-probabilities at T as the mentor-server sends them). Position t
/// predicts token t+1, so masks are read one step ahead.
/// </summary>
public static class DistillationLoss
{
    public sealed record Parts(Tensor Total, Tensor HardCrossEntropy, Tensor? SoftTerm);

    /// <param name="student">[B, T, V] student logits.</param>
    /// <param name="mentor">[B, T, V] the mentor's soft labels (no gradient), or null for <see cref="KnowledgeDistillationMode.None"/>.</param>
    /// <param name="labels">[B, T] labels aligned with inputs, -100 where unscored.</param>
    /// <param name="afterPrompt">[B, T] true from the first target token on, padding included.</param>
    public static Parts Compute(Tensor student, MentorSoftLabels? mentor, Tensor labels, Tensor afterPrompt,
        KnowledgeDistillationMode mode, KnowledgeDistillationMask mask, double lambda, double temperature, double jsdBeta = 0.5)
    {
        var vocab = student.shape[^1];
        var studentNext = student[.., ..^1].reshape(-1, vocab).to(ScalarType.Float32);
        var targets = labels[.., 1..].reshape(-1);
        var hard = functional.cross_entropy(studentNext, targets, ignore_index: -100);
        if (mode == KnowledgeDistillationMode.None || mentor is null) return new Parts(hard, hard, null);

        if (!mentor.Values.shape.SequenceEqual(student.shape))
            throw new ArgumentException($"mentor soft labels [{string.Join(", ", mentor.Values.shape)}] do not match the student's logits [{string.Join(", ", student.shape)}]: mentor and student need the same tokenizer.", nameof(mentor));
        if (mentor.LogProbabilities is not null && (!KnowledgeDistillationModes.NeedsOnlyTheDistribution(mode) || Math.Abs(mentor.Temperature - temperature) > 1e-9))
            throw new ArgumentException($"soft labels given as log-probabilities at T={mentor.Temperature} serve kd modes kl, reverse_kl and jsd at that temperature only (asked: {mode} at T={temperature}).", nameof(mentor));
        using var ignored = HeldScalars.Hold(-100);
        var selected = (mask == KnowledgeDistillationMask.Clean ? labels[.., 1..] != ignored : afterPrompt[.., 1..]).reshape(-1);
        var rows = selected.nonzero().squeeze(1);
        var s = studentNext.index_select(0, rows);
        var m = mentor.Values[.., ..^1].reshape(-1, vocab).to(ScalarType.Float32).index_select(0, rows).detach();

        long rowCount = Math.Max(1, rows.shape[0]);
        switch (mode)
        {
            case KnowledgeDistillationMode.Kl or KnowledgeDistillationMode.ReverseKl or KnowledgeDistillationMode.Jsd:
            {
                var studentLog = functional.log_softmax(s.DividedBy(temperature), 1);
                var mentorLog = mentor.LogProbabilities is not null ? m : functional.log_softmax(m.DividedBy(temperature), 1);
                // Divergences summed over the vocabulary, averaged over rows ("batchmean").
                var divergence = (mode switch
                {
                    KnowledgeDistillationMode.Kl => Kl(mentorLog, studentLog),
                    KnowledgeDistillationMode.ReverseKl => Kl(studentLog, mentorLog),
                    _ => GeneralizedJsd(mentorLog, studentLog, jsdBeta),
                }).DividedBy(rowCount);
                return new Parts(hard.Times(1 - lambda).Plus(divergence.Times(lambda)), hard, divergence);
            }
            case KnowledgeDistillationMode.Mse:
            {
                var mse = functional.mse_loss(s, m);
                return new Parts(hard.Times(1 - lambda).Plus(mse.Times(lambda)), hard, mse);
            }
            default:
            {
                var softCe = -(functional.softmax(m, 1) * functional.log_softmax(s, 1)).sum().DividedBy(Math.Max(1, rows.shape[0]));
                return new Parts(softCe, hard, softCe);
            }
        }
    }

    /// <summary>Σ p · (log p − log q) from log-probabilities.</summary>
    private static Tensor Kl(Tensor logP, Tensor logQ) => (logP.exp() * (logP - logQ)).sum();

    /// <summary>β·KL(P ‖ M) + (1-β)·KL(Q ‖ M), M = β·P + (1-β)·Q, with log M taken in log space so rows far apart stay finite.</summary>
    private static Tensor GeneralizedJsd(Tensor logP, Tensor logQ, double beta)
    {
        var logMixture = stack([logP.Plus(Math.Log(beta)), logQ.Plus(Math.Log(1 - beta))]).logsumexp(0);
        return Kl(logP, logMixture).Times(beta).Plus(Kl(logQ, logMixture).Times(1 - beta));
    }
}
