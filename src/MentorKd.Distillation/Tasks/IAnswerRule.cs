namespace MentorKd.Distillation.Tasks;

/// <summary>How a task reads the final answer out of a model's output and compares it with gold.</summary>
public interface IAnswerRule
{
    /// <summary>The predicted answer: the first candidate after "-->", else the last candidate anywhere, else the whole text.</summary>
    string Extract(string output);

    bool IsCorrect(string predicted, string gold);
}
