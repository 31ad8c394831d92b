using System.Text.Json.Serialization;

namespace MentorKd.Distillation.Evaluation;

/// <summary>One test question: what the model wrote, the answer read from it, and whether it matches gold. With sampled
/// answers, <see cref="Output"/> and <see cref="Predicted"/> are the first sample's, <see cref="Correct"/> says that at
/// least half the samples are right, and <see cref="SamplesCorrect"/> of <see cref="Samples"/> how many.</summary>
public sealed record EvaluatedExample(string QuestionId, string Question, string Gold, string Output, string Predicted, bool Correct,
    int Samples = 1, int SamplesCorrect = 0)
{
    /// <summary>The share of this question's answers that are right (rows written before sampling existed: 0 or 1 by <see cref="Correct"/>).</summary>
    [JsonIgnore] public double CorrectShare => Samples > 1 ? (double)SamplesCorrect / Samples : Correct ? 1 : 0;
}

/// <summary>Accuracy over a question set, with every example kept for the per-example JSONL.</summary>
public sealed record EvaluationResult(double Accuracy, int Correct, int Total, IReadOnlyList<EvaluatedExample> Examples);

/// <summary>Several answers per question sampled at a temperature instead of one greedy answer: how reliably a model
/// solves each question, not only whether its most likely answer is right.</summary>
public sealed record AnswerSampling(int Samples, double Temperature, long Seed)
{
    public const int MaxSamples = 32;
}
