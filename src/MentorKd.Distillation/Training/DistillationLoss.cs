using MentorKd.Modeling.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MentorKd.Distillation.Training;

/// <summary>
/// The student's loss: hard-label cross-entropy mixed with a soft-label term from the mentor's logits on the
/// same teacher-forced sequence. Position t's logits predict token t+1, so masks are read one step ahead.
/// </summary>
public static class DistillationLoss
{
    public sealed record Parts(Tensor Total, Tensor HardCrossEntropy, Tensor? SoftTerm);

    /// <param name="student">[B, T, V] student logits.</param>
    /// <param name="mentor">[B, T, V] mentor logits (no gradient), or null for <see cref="KnowledgeDistillationMode.None"/>.</param>
    /// <param name="labels">[B, T] labels aligned with inputs, -100 where unscored.</param>
    /// <param name="afterPrompt">[B, T] true from the first target token on, padding included.</param>
    public static Parts Compute(Tensor student, Tensor? mentor, Tensor labels, Tensor afterPrompt,
        KnowledgeDistillationMode mode, KnowledgeDistillationMask mask, double lambda, double temperature)
    {
        var vocab = student.shape[^1];
        var studentNext = student[.., ..^1].reshape(-1, vocab).to(ScalarType.Float32);
        var targets = labels[.., 1..].reshape(-1);
        var hard = functional.cross_entropy(studentNext, targets, ignore_index: -100);
        if (mode == KnowledgeDistillationMode.None || mentor is null) return new Parts(hard, hard, null);

        if (!mentor.shape.SequenceEqual(student.shape))
            throw new ArgumentException($"mentor logits [{string.Join(", ", mentor.shape)}] do not match the student's [{string.Join(", ", student.shape)}]: mentor and student need the same tokenizer.", nameof(mentor));
        using var ignored = HeldScalars.Hold(-100);
        var selected = (mask == KnowledgeDistillationMask.Clean ? labels[.., 1..] != ignored : afterPrompt[.., 1..]).reshape(-1);
        var rows = selected.nonzero().squeeze(1);
        var s = studentNext.index_select(0, rows);
        var m = mentor[.., ..^1].reshape(-1, vocab).to(ScalarType.Float32).index_select(0, rows).detach();

        switch (mode)
        {
            case KnowledgeDistillationMode.Kl:
            {
                var studentLog = functional.log_softmax(s.DividedBy(temperature), 1);
                var mentorLog = functional.log_softmax(m.DividedBy(temperature), 1);
                // KL(mentor ‖ student) summed over the vocabulary, averaged over rows ("batchmean").
                var kl = (mentorLog.exp() * (mentorLog - studentLog)).sum().DividedBy(Math.Max(1, rows.shape[0]));
                return new Parts(hard.Times(1 - lambda).Plus(kl.Times(lambda)), hard, kl);
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
}
