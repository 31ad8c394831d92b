using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks;

namespace MentorKd.Distillation.Training;

/// <summary>
/// Fine-tune-CoT's format for a decoder-only model: the question is the prompt, the model writes
/// "rationale --> answer" and then end-of-text. The answer after the marker is always the gold answer.
/// </summary>
public static class CotFormat
{
    public static string Prompt(Question question) => $"Q: {question.Text.Trim()}\nA:";

    public static string Target(string rationale, string answer) => $" {rationale.Trim()} {CandidateAnswerRule.AnswerMarker} {answer.Trim()}";

    /// <summary>The rationale part of a generated target: the text before the first marker.</summary>
    public static string RationaleOf(string output)
    {
        int marker = output.IndexOf(CandidateAnswerRule.AnswerMarker, StringComparison.Ordinal);
        return (marker >= 0 ? output[..marker] : output).Trim();
    }
}
