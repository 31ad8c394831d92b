using System.Text.RegularExpressions;
using MentorKd.Distillation.Data;

namespace MentorKd.Distillation.Tasks.Synthetic;

/// <summary>Last-letter concatenation in the reference wording; difficulty = number of words (2–8).</summary>
public sealed partial class LastLetterTask : ISyntheticTask
{
    [GeneratedRegex("\"([^\"]+)\"")] private static partial Regex QuotedWords();

    public string Name => TaskNames.LastLetterConcatenation;
    public int MinDifficulty => 2;
    public int MaxDifficulty => 8;
    public int DefaultDifficulty => 4;
    public int PhrasingCount => 3;

    public Question Generate(Random random, string id, int difficulty)
    {
        var words = Names.Distinct(random, Math.Clamp(difficulty, MinDifficulty, MaxDifficulty));
        return Compose(id, words);
    }

    public int DifficultyOf(Question question) => Words(question)?.Length ?? 0;

    /// <summary>The same words, and one more after them.</summary>
    public Question? Harder(Question original, Random random, string id)
    {
        var words = Words(original) ?? throw new ArgumentException($"question {original.Id} is not a last-letter question.", nameof(original));
        return words.Length >= MaxDifficulty ? null : Compose(id, [.. words, Names.Except(random, words)]);
    }

    private Question Compose(string id, string[] words)
    {
        var text = $"Take the last letters of each words in \"{string.Join(' ', words)}\" and concatenate them.";
        return new Question(id, Name, text, Answer(words), words.Length);
    }

    private static string[]? Words(Question question)
    {
        var match = QuotedWords().Match(question.Text);
        return match.Success ? match.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries) : null;
    }

    public SolvedRationale Solve(Question question, int phrasing, Random random, bool mistake)
    {
        var words = Words(question) ?? throw new ArgumentException($"question {question.Id} is not a last-letter question.", nameof(question));
        var letters = words.Select(w => w[^1].ToString().ToLowerInvariant()).ToArray();
        if (mistake)
        {
            // Typical slips: the first letter instead of the last, or the second-to-last letter.
            int slip = random.Next(words.Length);
            var word = words[slip];
            var wrong = random.Next(2) == 0 || word.Length < 2 ? word[0] : word[^2];
            letters[slip] = char.ToLowerInvariant(wrong).ToString();
            if (letters[slip] == words[slip][^1].ToString().ToLowerInvariant()) letters[slip] = letters[slip] == "a" ? "e" : "a";
        }
        var answer = string.Concat(letters);
        var text = (phrasing % PhrasingCount) switch
        {
            0 => string.Join(" ", words.Select((w, i) => $"The last letter of {w} is {letters[i]}.")) + $" Together they make {answer}.",
            1 => string.Join(", ", words.Select((w, i) => $"{w} ends with {letters[i]}")) + $". So the answer is {answer}.",
            _ => string.Join(" ", words.Select((w, i) => $"{i + 1}. {w} - {letters[i]}")) + $" Putting them together: {answer}.",
        };
        return new SolvedRationale(text, answer);
    }

    private static string Answer(IEnumerable<string> words) => string.Concat(words.Select(w => char.ToLowerInvariant(w[^1])));
}
