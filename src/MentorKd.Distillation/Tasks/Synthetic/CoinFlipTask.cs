using System.Text.RegularExpressions;
using MentorKd.Distillation.Data;

namespace MentorKd.Distillation.Tasks.Synthetic;

/// <summary>Coin flip (Kojima et al.'s wording); difficulty = number of people who flip or not (2–8).</summary>
public sealed partial class CoinFlipTask : ISyntheticTask
{
    [GeneratedRegex(@"(\p{L}+) (flips|does not flip) the coin\.")] private static partial Regex Turn();

    public string Name => TaskNames.CoinFlip;
    public int MinDifficulty => 2;
    public int MaxDifficulty => 8;
    public int DefaultDifficulty => 4;
    public int PhrasingCount => 3;

    public Question Generate(Random random, string id, int difficulty)
    {
        var people = Names.Distinct(random, Math.Clamp(difficulty, MinDifficulty, MaxDifficulty));
        var flips = people.Select(_ => random.Next(2) == 0).ToArray();
        return Compose(id, people, flips);
    }

    public int DifficultyOf(Question question) => Turns(question).Count;

    /// <summary>The same people and flips, and one more person after them who flips or not.</summary>
    public Question? Harder(Question original, Random random, string id)
    {
        var turns = Turns(original);
        if (turns.Count >= MaxDifficulty) return null;
        var newcomer = Names.Except(random, turns.Select(t => t.Person));
        return Compose(id, [.. turns.Select(t => t.Person), newcomer], [.. turns.Select(t => t.Flips), random.Next(2) == 0]);
    }

    private Question Compose(string id, IReadOnlyList<string> people, IReadOnlyList<bool> flips)
    {
        var turns = string.Join(" ", people.Select((p, i) => flips[i] ? $"{p} flips the coin." : $"{p} does not flip the coin."));
        var text = $"A coin is heads up. {turns} Is the coin still heads up? Note that \"flip\" here means \"reverse\".";
        return new Question(id, Name, text, flips.Count(f => f) % 2 == 0 ? "yes" : "no", people.Count);
    }

    private static List<(string Person, bool Flips)> Turns(Question question) =>
        Turn().Matches(question.Text).Select(m => (Person: m.Groups[1].Value, Flips: m.Groups[2].Value == "flips")).ToList();

    public SolvedRationale Solve(Question question, int phrasing, Random random, bool mistake)
    {
        var turns = Turns(question);
        if (turns.Count == 0) throw new ArgumentException($"question {question.Id} is not a coin-flip question.", nameof(question));
        int slip = mistake ? random.Next(turns.Count) : -1;
        bool heads = true;
        var steps = new List<string>();
        for (int i = 0; i < turns.Count; i++)
        {
            var (person, flips) = turns[i];
            bool changes = flips ^ (i == slip); // the slip: a flip is missed, or a non-flip is counted
            if (changes) heads = !heads;
            var side = heads ? "heads" : "tails";
            steps.Add((phrasing % PhrasingCount) switch
            {
                0 => flips ? $"{person} flips it, so it is {side} up." : $"{person} does not flip it, so it is {side} up.",
                1 => $"After {person} it is {side}.",
                _ => flips ? $"{person} flips: {side}." : $"{person} does not flip: {side}.",
            });
        }
        var answer = heads ? "yes" : "no";
        var start = (phrasing % PhrasingCount) == 1 ? "It starts heads." : "The coin starts heads up.";
        var end = $"So the coin is {(heads ? "heads" : "tails")} up, and the answer is {answer}.";
        return new SolvedRationale($"{start} {string.Join(" ", steps)} {end}", answer);
    }
}
