using System.Text.RegularExpressions;
using MentorKd.Distillation.Data;

namespace MentorKd.Distillation.Tasks.Synthetic;

/// <summary>
/// Tracking shuffled objects (BIG-bench's wording, balls) with 3, 5 or 7 players; difficulty = number of swaps.
/// </summary>
public sealed partial class TrackingShuffledObjectsTask(int objects) : ISyntheticTask
{
    private static readonly string[] Players = ["Alice", "Bob", "Claire", "Dave", "Eve", "Fred", "Gertrude"];
    private static readonly string[] Colors = ["red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "black", "brown", "gray"];

    [GeneratedRegex(@"(\p{L}+) has a (\p{L}+) ball")] private static partial Regex Holding();
    [GeneratedRegex(@"(\p{L}+) and (\p{L}+) swap balls")] private static partial Regex Swap();
    [GeneratedRegex(@"At the end of the game, (\p{L}+) has the")] private static partial Regex Asked();
    [GeneratedRegex(@"\(([A-G])\) (\p{L}+) ball")] private static partial Regex Choice();

    public string Name => objects switch
    {
        3 => TaskNames.TrackingShuffledObjects,
        5 => TaskNames.TrackingShuffledObjects5,
        7 => TaskNames.TrackingShuffledObjects7,
        _ => throw new ArgumentOutOfRangeException(nameof(objects), objects, "3, 5 or 7 objects"),
    };

    public int MinDifficulty => 1;
    public int MaxDifficulty => 3 * objects;
    public int DefaultDifficulty => objects;
    public int PhrasingCount => 3;

    public Question Generate(Random random, string id, int difficulty)
    {
        var players = Players[..objects];
        var colors = (string[])Colors.Clone();
        random.Shuffle(colors);
        colors = colors[..objects];
        var swaps = new List<(string, string)>();
        for (int s = 0; s < Math.Clamp(difficulty, MinDifficulty, MaxDifficulty); s++) swaps.Add(NextSwap(random, players));
        var asked = players[random.Next(objects)];
        return Compose(id, players, colors, swaps, asked);
    }

    public int DifficultyOf(Question question) => Swap().Matches(question.Text).Count;

    /// <summary>The same players, balls and swaps, and one more swap before the question.</summary>
    public Question? Harder(Question original, Random random, string id)
    {
        var holding = Holding().Matches(original.Text).Select(m => (Player: m.Groups[1].Value, Color: m.Groups[2].Value)).ToList();
        var swaps = Swap().Matches(original.Text).Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();
        var asked = Asked().Match(original.Text).Groups[1].Value;
        if (holding.Count != objects || swaps.Count == 0 || asked.Length == 0)
            throw new ArgumentException($"question {original.Id} is not a tracking question with {objects} players.", nameof(original));
        if (swaps.Count >= MaxDifficulty) return null;
        var players = holding.Select(h => h.Player).ToArray();
        swaps.Add(NextSwap(random, players));
        return Compose(id, players, holding.Select(h => h.Color).ToArray(), swaps, asked);
    }

    private static (string, string) NextSwap(Random random, string[] players)
    {
        int a = random.Next(players.Length), b = (a + 1 + random.Next(players.Length - 1)) % players.Length;
        return a < b ? (players[a], players[b]) : (players[b], players[a]);
    }

    private Question Compose(string id, string[] players, string[] colors, IReadOnlyList<(string First, string Second)> swaps, string asked)
    {
        var holding = players.Zip(colors).ToDictionary(p => p.First, p => p.Second);
        var sentences = new List<string>();
        for (int s = 0; s < swaps.Count; s++)
        {
            var (first, second) = swaps[s];
            (holding[first], holding[second]) = (holding[second], holding[first]);
            var lead = s == 0 ? "First" : s == swaps.Count - 1 ? "Finally" : "Then";
            sentences.Add($"{lead}, {first} and {second} swap balls.");
        }
        var start = string.Join(", ", players.Select((p, i) => (i == players.Length - 1 ? "and " : "") + $"{p} has a {colors[i]} ball"));
        var choices = string.Join(", ", colors.Select((c, i) => $"({(char)('A' + i)}) {c} ball"));
        var text = $"{JoinNames(players)} are playing a game. At the start of the game, they are each holding a ball: {start}. " +
                   $"As the game progresses, pairs of players trade balls. {string.Join(" ", sentences)} At the end of the game, {asked} has the " +
                   $"Which choice is true? Answer choices: {choices}.";
        var answer = ((char)('A' + Array.IndexOf(colors, holding[asked]))).ToString();
        return new Question(id, Name, text, answer, swaps.Count);
    }

    public SolvedRationale Solve(Question question, int phrasing, Random random, bool mistake)
    {
        var holding = Holding().Matches(question.Text).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        var order = holding.Keys.ToList();
        var swaps = Swap().Matches(question.Text).Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();
        var asked = Asked().Match(question.Text).Groups[1].Value;
        var choices = Choice().Matches(question.Text).ToDictionary(m => m.Groups[2].Value, m => m.Groups[1].Value);
        if (holding.Count == 0 || swaps.Count == 0 || asked.Length == 0)
            throw new ArgumentException($"question {question.Id} is not a tracking question.", nameof(question));

        int slip = mistake ? random.Next(swaps.Count) : -1; // the slip: one swap is overlooked
        var style = phrasing % PhrasingCount;
        var steps = new List<string> { style == 1 ? $"Start: {State(order, holding)}." : $"At the start, {State(order, holding)}." };
        for (int s = 0; s < swaps.Count; s++)
        {
            var (a, b) = swaps[s];
            if (s != slip) (holding[a], holding[b]) = (holding[b], holding[a]);
            steps.Add(style switch
            {
                0 => $"{a} and {b} swap, so {State(order, holding)}.",
                1 => $"{a} and {b} swap: {a} has {holding[a]}, {b} has {holding[b]}.",
                _ => $"After {a} and {b} swap, {State(order, holding)}.",
            });
        }
        var final = holding[asked];
        var letter = choices.TryGetValue(final, out var l) ? l : "A";
        steps.Add($"At the end, {asked} has the {final} ball, which is choice ({letter}).");
        return new SolvedRationale(string.Join(" ", steps), letter);
    }

    private static string State(List<string> order, Dictionary<string, string> holding) =>
        string.Join(", ", order.Select(p => $"{p} has {holding[p]}"));

    private static string JoinNames(string[] names) => string.Join(", ", names[..^1]) + ", and " + names[^1];
}
