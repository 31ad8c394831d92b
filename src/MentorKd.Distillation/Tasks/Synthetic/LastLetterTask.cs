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
        var text = $"Take the last letters of each words in \"{string.Join(' ', words)}\" and concatenate them.";
        return new Question(id, Name, text, Answer(words), words.Length);
    }

    public SolvedRationale Solve(Question question, int phrasing, Random random, bool mistake)
    {
        var match = QuotedWords().Match(question.Text);
        if (!match.Success) throw new ArgumentException($"question {question.Id} is not a last-letter question.", nameof(question));
        var words = match.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
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
