namespace MentorKd.TeacherGateway.OpenAi;

/// <summary>A teacher prompt read from a file, with "{question}" where the question goes. Templates ship in the
/// gateway's Prompts/ folder (by name) or come from any file a deployment mounts.</summary>
public sealed record PromptTemplate(string Name, string Text)
{
    public const string QuestionSlot = "{question}";
    public const string AnswerSlot = "{answer}";

    public string Render(string question, string answer = "") =>
        Text.Replace(QuestionSlot, question.Trim(), StringComparison.Ordinal).Replace(AnswerSlot, answer.Trim(), StringComparison.Ordinal);

    /// <summary>Loads a template by name from Prompts/ or from a path; fails naming the template when it is missing or has no slot.</summary>
    public static PromptTemplate Load(string nameOrPath)
    {
        var shipped = Path.Combine(AppContext.BaseDirectory, "Prompts", nameOrPath + ".txt");
        var path = File.Exists(shipped) ? shipped : nameOrPath;
        if (!File.Exists(path))
            throw new InvalidOperationException($"prompt template '{nameOrPath}' is neither a template in {Path.GetDirectoryName(shipped)} " +
                $"({string.Join(", ", Shipped())}) nor a file.");
        var text = File.ReadAllText(path).TrimEnd('\r', '\n'); // an editor's final newline is not part of the prompt
        if (!text.Contains(QuestionSlot, StringComparison.Ordinal))
            throw new InvalidOperationException($"prompt template '{nameOrPath}' has no {QuestionSlot} slot.");
        return new PromptTemplate(Path.GetFileNameWithoutExtension(path), text);
    }

    private static IEnumerable<string> Shipped()
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "Prompts");
        return Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*.txt").Select(Path.GetFileNameWithoutExtension).Order()! : [];
    }
}
