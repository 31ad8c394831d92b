namespace MentorKd.Distillation.Evaluation;

/// <summary>One test question: what the model wrote, the answer read from it, and whether it matches gold.</summary>
public sealed record EvaluatedExample(string QuestionId, string Question, string Gold, string Output, string Predicted, bool Correct);

/// <summary>Accuracy over a question set, with every example kept for the per-example JSONL.</summary>
public sealed record EvaluationResult(double Accuracy, int Correct, int Total, IReadOnlyList<EvaluatedExample> Examples);
