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

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.1)]
    [InlineData(0.9)]
    public void Reverse_kl_and_generalized_jsd_match_hand_computations_from_logits_and_from_log_probabilities_at_t(double beta)
    {
        double lambda = 0.3, t = 2.0;
        var atT = MentorSoftLabels.FromLogProbabilities(MentorLogits.DividedBy(t).log_softmax(-1), t);
        // Position 1's student row is [2, 0] here, not the mirror of the mentor's [0, 1], so forward and reverse KL differ.
        using var student = tensor(new float[] { 0, 0, 2, 0, 0, 2, 9, 9 }).reshape(1, 4, 2);
        // Clean rows: positions 0 and 1; each term is the student against the mentor at T.
        double reverse = (Kl([0, 0], [0, 0], t, reverse: true) + Kl([2, 0], [0, 1], t, reverse: true)) / 2;
        double jsd = (Jsd([0, 0], [0, 0], t, beta) + Jsd([2, 0], [0, 1], t, beta)) / 2;
        foreach (var mentor in new[] { Mentor, atT })
        {
            var reverseParts = DistillationLoss.Compute(student, mentor, Labels, AfterPrompt, KnowledgeDistillationMode.ReverseKl, KnowledgeDistillationMask.Clean, lambda, t);
            Assert.Equal(reverse, reverseParts.SoftTerm!.item<float>(), 5);
            Assert.Equal((1 - lambda) * reverseParts.HardCrossEntropy.item<float>() + lambda * reverse, reverseParts.Total.item<float>(), 5);
            var jsdParts = DistillationLoss.Compute(student, mentor, Labels, AfterPrompt, KnowledgeDistillationMode.Jsd, KnowledgeDistillationMask.Clean, lambda, t, beta);
            Assert.Equal(jsd, jsdParts.SoftTerm!.item<float>(), 5);
        }
        Assert.NotEqual(reverse, (Kl([0, 0], [0, 0], t) + Kl([2, 0], [0, 1], t)) / 2, 3);
        // β weighs the mentor's side: away from 0.5, swapping the roles changes the value.
        if (beta != 0.5) Assert.NotEqual(jsd, (Jsd([0, 0], [0, 0], t, 1 - beta) + Jsd([2, 0], [0, 1], t, 1 - beta)) / 2, 4);
        if (beta == 0.5) Assert.True(jsd <= Math.Log(2));
    }

    [Fact]
    public void Reverse_kl_and_jsd_are_zero_for_identical_distributions_and_pull_the_student_towards_the_mentor()
    {
        foreach (var mode in new[] { KnowledgeDistillationMode.ReverseKl, KnowledgeDistillationMode.Jsd })
        {
            var same = DistillationLoss.Compute(Student, MentorSoftLabels.FromLogits(Student), Labels, AfterPrompt, mode, KnowledgeDistillationMask.Clean, 1.0, 2.0);
            Assert.Equal(0.0, same.SoftTerm!.item<float>(), 6);

            using var student = Student.clone().requires_grad_(true);
            var parts = DistillationLoss.Compute(student, Mentor, Labels, AfterPrompt, mode, KnowledgeDistillationMask.Clean, 1.0, 2.0);
            parts.Total.backward();
            // Position 1: the student favours token 0, the mentor token 1; descending the gradient raises token 1's logit.
            var gradient = student.grad!.data<float>().ToArray();
            Assert.True(gradient[3] < gradient[2], $"{mode}: gradient at position 1 is [{gradient[2]}, {gradient[3]}]");
        }
    }

    private static double[] LogSoftmax(double[] logits, double t)
    {
        var scaled = logits.Select(l => l / t).ToArray();
        double max = scaled.Max(), log = Math.Log(scaled.Sum(s => Math.Exp(s - max))) + max;
        return scaled.Select(s => s - log).ToArray();
    }

    /// <summary>KL(mentor ‖ student) at T, or KL(student ‖ mentor) when <paramref name="reverse"/>.</summary>
    private static double Kl(double[] student, double[] mentor, double t, bool reverse = false)
    {
        var ls = LogSoftmax(student, t);
        var lm = LogSoftmax(mentor, t);
        return reverse ? ls.Select((l, i) => Math.Exp(l) * (l - lm[i])).Sum() : lm.Select((l, i) => Math.Exp(l) * (l - ls[i])).Sum();
    }

    /// <summary>β·KL(mentor ‖ M) + (1-β)·KL(student ‖ M) at T, M = β·mentor + (1-β)·student.</summary>
    private static double Jsd(double[] student, double[] mentor, double t, double beta)
    {
        var p = LogSoftmax(mentor, t).Select(Math.Exp).ToArray();
        var q = LogSoftmax(student, t).Select(Math.Exp).ToArray();
        var m = p.Select((pi, i) => beta * pi + (1 - beta) * q[i]).ToArray();
        double Divergence(double[] a) => a.Select((ai, i) => ai * Math.Log(ai / m[i])).Sum();
        return beta * Divergence(p) + (1 - beta) * Divergence(q);
    }

    private static double SoftCe(double[] student, double[] mentor)
    {
        var ls = LogSoftmax(student, 1);
        var lm = LogSoftmax(mentor, 1);
        return -lm.Select((l, i) => Math.Exp(l) * ls[i]).Sum();
    }
}
