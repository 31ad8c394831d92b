namespace MentorKd.Modeling.Training;

/// <summary>
/// One training sequence: a prompt the model reads but is not scored on, and a target it learns to write
/// (plain text has an empty prompt). The target normally ends with end-of-text so the model learns to stop.
/// </summary>
public sealed record LanguageModelExample(int[] Prompt, int[] Target)
{
    public int Length => Prompt.Length + Target.Length;
}
