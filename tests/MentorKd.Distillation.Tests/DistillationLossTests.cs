using MentorKd.Distillation.Training;
using MentorKd.Modeling.Runtime;
using static TorchSharp.torch;

namespace MentorKd.Distillation.Tests;

public class DistillationLossTests
{
    // One sequence of 4 positions over a 2-token vocabulary; position t's logits predict token t+1.
    // Position 0 is the prompt, 1 and 2 are targets, 3 is padding. Rows per position: student / mentor
    // 0: [0,0] / [0,0]   1: [1,0] / [0,1]   2: [0,2] / [2,0]   3: [9,9] / [9,9]
    private static readonly Tensor Student = tensor(new float[] { 0, 0, 1, 0, 0, 2, 9, 9 }).reshape(1, 4, 2);
    private static readonly Tensor MentorLogits = tensor(new float[] { 0, 0, 0, 1, 2, 0, 9, 9 }).reshape(1, 4, 2);
    private static readonly MentorSoftLabels Mentor = MentorSoftLabels.FromLogits(MentorLogits);
    private static readonly Tensor Labels = tensor(new long[] { -100, 0, 1, -100 }).reshape(1, 4);     // last position is padding
    private static readonly Tensor AfterPrompt = tensor(new[] { false, true, true, true }).reshape(1, 4);

    [Fact]
    public void Kl_term_matches_a_hand_computation_at_temperature_two()
    {
        double lambda = 0.3, t = 2.0;
        var parts = DistillationLoss.Compute(Student, Mentor, Labels, AfterPrompt, KnowledgeDistillationMode.Kl, KnowledgeDistillationMask.Clean, lambda, t);

        // Clean rows: positions 0 and 1 (they predict the labels at 1 and 2).
        double kl = (Kl([0, 0], [0, 0], t) + Kl([1, 0], [0, 1], t)) / 2;
        double ce = (-LogSoftmax([0, 0], 1)[0] - LogSoftmax([1, 0], 1)[1]) / 2;
        Assert.Equal(kl, parts.SoftTerm!.item<float>(), 5);
        Assert.Equal(ce, parts.HardCrossEntropy.item<float>(), 5);
        Assert.Equal((1 - lambda) * ce + lambda * kl, parts.Total.item<float>(), 5);
    }

    [Fact]
    public void Faithful_mask_also_averages_over_padding_positions()
    {
        var parts = DistillationLoss.Compute(Student, Mentor, Labels, AfterPrompt, KnowledgeDistillationMode.Kl, KnowledgeDistillationMask.Faithful, 0.5, 1.0);
        // Faithful rows: positions 0, 1 and 2 (position 2 predicts the padding at 3).
        double kl = (Kl([0, 0], [0, 0], 1) + Kl([1, 0], [0, 1], 1) + Kl([0, 2], [2, 0], 1)) / 3;
        Assert.Equal(kl, parts.SoftTerm!.item<float>(), 5);
    }

    [Fact]
    public void Mse_soft_ce_and_none_modes()
    {
        var mse = DistillationLoss.Compute(Student, Mentor, Labels, AfterPrompt, KnowledgeDistillationMode.Mse, KnowledgeDistillationMask.Clean, 0.3, 2.0);
        Assert.Equal((0 + 0 + 1 + 1) / 4.0, mse.SoftTerm!.item<float>(), 5);

        var softCe = DistillationLoss.Compute(Student, Mentor, Labels, AfterPrompt, KnowledgeDistillationMode.Ce, KnowledgeDistillationMask.Clean, 0.3, 2.0);
        double expected = (SoftCe([0, 0], [0, 0]) + SoftCe([1, 0], [0, 1])) / 2;
        Assert.Equal(expected, softCe.Total.item<float>(), 5); // soft CE alone: no hard CE, no temperature

        var none = DistillationLoss.Compute(Student, Mentor, Labels, AfterPrompt, KnowledgeDistillationMode.None, KnowledgeDistillationMask.Clean, 0.3, 2.0);
        Assert.Null(none.SoftTerm);
        Assert.Equal(none.HardCrossEntropy.item<float>(), none.Total.item<float>());
    }

    [Fact]
    public void Identical_distributions_have_zero_kl()
    {
        var parts = DistillationLoss.Compute(Student, MentorSoftLabels.FromLogits(Student), Labels, AfterPrompt, KnowledgeDistillationMode.Kl, KnowledgeDistillationMask.Clean, 1.0, 3.0);
        Assert.Equal(0.0, parts.SoftTerm!.item<float>(), 6);
    }

    [Fact]
    public void Log_probabilities_at_t_as_the_mentor_server_sends_them_give_the_same_kl_as_logits_and_serve_nothing_else()
    {
        var atT = MentorSoftLabels.FromLogProbabilities(MentorLogits.DividedBy(2.0).log_softmax(-1), 2.0);
        var fromLogits = DistillationLoss.Compute(Student, Mentor, Labels, AfterPrompt, KnowledgeDistillationMode.Kl, KnowledgeDistillationMask.Clean, 0.3, 2.0);
        var fromLogProbabilities = DistillationLoss.Compute(Student, atT, Labels, AfterPrompt, KnowledgeDistillationMode.Kl, KnowledgeDistillationMask.Clean, 0.3, 2.0);
        Assert.Equal(fromLogits.SoftTerm!.item<float>(), fromLogProbabilities.SoftTerm!.item<float>(), 6);

        // Taken at another temperature, or for a mode that needs logits: refused, not silently rescaled.
        Assert.Throws<ArgumentException>(() => DistillationLoss.Compute(Student, atT, Labels, AfterPrompt, KnowledgeDistillationMode.Kl, KnowledgeDistillationMask.Clean, 0.3, 1.0));
        Assert.Throws<ArgumentException>(() => DistillationLoss.Compute(Student, atT, Labels, AfterPrompt, KnowledgeDistillationMode.Mse, KnowledgeDistillationMask.Clean, 0.3, 2.0));
    }

    private static double[] LogSoftmax(double[] logits, double t)
    {
        var scaled = logits.Select(l => l / t).ToArray();
        double max = scaled.Max(), log = Math.Log(scaled.Sum(s => Math.Exp(s - max))) + max;
        return scaled.Select(s => s - log).ToArray();
    }

    private static double Kl(double[] student, double[] mentor, double t)
    {
        var ls = LogSoftmax(student, t);
        var lm = LogSoftmax(mentor, t);
        return lm.Select((l, i) => Math.Exp(l) * (l - ls[i])).Sum();
    }

    private static double SoftCe(double[] student, double[] mentor)
    {
        var ls = LogSoftmax(student, 1);
        var lm = LogSoftmax(mentor, 1);
        return -lm.Select((l, i) => Math.Exp(l) * ls[i]).Sum();
    }
}
