using System.Globalization;
using System.Text.RegularExpressions;
using MentorKd.Distillation.Data;

namespace MentorKd.Distillation.Tasks.Synthetic;

/// <summary>
/// Multi-step arithmetic word problems with small whole numbers; difficulty = number of operations (2–6).
/// Values stay between 0 and 999.
/// </summary>
public sealed partial class ArithmeticTask : ISyntheticTask
{
    private static readonly string[] Items = ["apples", "marbles", "stickers", "coins", "books", "shells", "cards", "pencils"];

    private enum Operation { Buy, Find, Give, Lose, Double, Triple }

    [GeneratedRegex(@"^(\p{L}+) has (\d+) (\p{L}+)\.")] private static partial Regex Start();
    [GeneratedRegex(@"Then \p{L}+ (?:(buys) (\d+) more|(finds) (\d+) more|(gives) (\d+) to a friend|(loses) (\d+)|(doubles) them|(triples) them)\.")] private static partial Regex Step();

    public string Name => TaskNames.Arithmetic;
    public int MinDifficulty => 2;
    public int MaxDifficulty => 6;
    public int DefaultDifficulty => 3;
    public int PhrasingCount => 3;

    public Question Generate(Random random, string id, int difficulty)
    {
        var name = Names.First[random.Next(Names.First.Length)];
        var item = Items[random.Next(Items.Length)];
        int initial = random.Next(2, 21), value = initial;
        var steps = new List<(Operation, int)>();
        for (int s = 0; s < Math.Clamp(difficulty, MinDifficulty, MaxDifficulty); s++)
        {
            var (op, amount) = NextStep(random, value);
            value = Apply(op, value, amount);
            steps.Add((op, amount));
        }
        return Compose(id, name, item, initial, steps);
    }

    public int DifficultyOf(Question question) => Step().Matches(question.Text).Count;

    /// <summary>The same person, things and operations, and one more operation at the end.</summary>
    public Question? Harder(Question original, Random random, string id)
    {
        var start = Start().Match(original.Text);
        var steps = Step().Matches(original.Text).Select(Parse).ToList();
        if (!start.Success || steps.Count == 0) throw new ArgumentException($"question {original.Id} is not an arithmetic question.", nameof(original));
        if (steps.Count >= MaxDifficulty) return null;
        int initial = int.Parse(start.Groups[2].Value, CultureInfo.InvariantCulture);
        int value = steps.Aggregate(initial, (v, step) => Apply(step.Item1, v, step.Item2));
        steps.Add(NextStep(random, value));
        return Compose(id, start.Groups[1].Value, start.Groups[3].Value, initial, steps);
    }

    /// <summary>An operation that keeps the value between 0 and 999.</summary>
    private static (Operation, int) NextStep(Random random, int value)
    {
        var choices = new List<Operation> { Operation.Buy, Operation.Find };
        if (value > 1) choices.AddRange([Operation.Give, Operation.Lose]);
        if (value <= 100) choices.Add(Operation.Double);
        if (value <= 30) choices.Add(Operation.Triple);
        var op = choices[random.Next(choices.Count)];
        int amount = op is Operation.Give or Operation.Lose ? random.Next(1, Math.Min(value, 15) + 1) : random.Next(1, 16);
        return (op, amount);
    }

    private Question Compose(string id, string name, string item, int initial, IReadOnlyList<(Operation Op, int Amount)> steps)
    {
        var sentences = steps.Select(s => s.Op switch
        {
            Operation.Buy => $"Then {name} buys {s.Amount} more.",
            Operation.Find => $"Then {name} finds {s.Amount} more.",
            Operation.Give => $"Then {name} gives {s.Amount} to a friend.",
            Operation.Lose => $"Then {name} loses {s.Amount}.",
            Operation.Double => $"Then {name} doubles them.",
            _ => $"Then {name} triples them.",
        });
        int value = steps.Aggregate(initial, (v, s) => Apply(s.Op, v, s.Amount));
        var text = $"{name} has {initial} {item}. {string.Join(" ", sentences)} How many {item} does {name} have now?";
        return new Question(id, Name, text, value.ToString(CultureInfo.InvariantCulture), steps.Count);
    }

    public SolvedRationale Solve(Question question, int phrasing, Random random, bool mistake)
    {
        var start = Start().Match(question.Text);
        var steps = Step().Matches(question.Text).ToList();
        if (!start.Success || steps.Count == 0) throw new ArgumentException($"question {question.Id} is not an arithmetic question.", nameof(question));
        var (name, item) = (start.Groups[1].Value, start.Groups[3].Value);
        int value = int.Parse(start.Groups[2].Value, CultureInfo.InvariantCulture);
        int slip = mistake ? random.Next(steps.Count) : -1; // the slip: one result off by a little
        var style = phrasing % PhrasingCount;
        var lines = new List<string> { style == 2 ? $"Start with {value}." : $"{name} starts with {value} {item}." };
        for (int s = 0; s < steps.Count; s++)
        {
            var (op, amount) = Parse(steps[s]);
            int before = value;
            value = Apply(op, value, amount);
            if (s == slip) value = Math.Max(0, value + (random.Next(2) == 0 ? -1 : 1) * random.Next(1, 4));
            var expression = op switch
            {
                Operation.Buy or Operation.Find => $"{before} + {amount} = {value}",
                Operation.Give or Operation.Lose => $"{before} - {amount} = {value}",
                Operation.Double => $"{before} * 2 = {value}",
                _ => $"{before} * 3 = {value}",
            };
            lines.Add(style switch
            {
                0 => $"{Verb(op)}: {expression}.",
                1 => $"Then {expression}.",
                _ => $"{expression}.",
            });
        }
        var answer = value.ToString(CultureInfo.InvariantCulture);
        lines.Add(style == 2 ? $"The answer is {answer}." : $"So {name} has {answer} {item}.");
        return new SolvedRationale(string.Join(" ", lines), answer);
    }

    private static (Operation, int) Parse(Match step)
    {
        for (int g = 1; g < step.Groups.Count; g++)
        {
            if (!step.Groups[g].Success) continue;
            int amount = g + 1 < step.Groups.Count && step.Groups[g + 1].Success && int.TryParse(step.Groups[g + 1].Value, out var a) ? a : 0;
            return (step.Groups[g].Value switch
            {
                "buys" => Operation.Buy,
                "finds" => Operation.Find,
                "gives" => Operation.Give,
                "loses" => Operation.Lose,
                "doubles" => Operation.Double,
                _ => Operation.Triple,
            }, amount);
        }
        throw new ArgumentException($"unrecognised step '{step.Value}'.");
    }

    private static string Verb(Operation op) => op switch
    {
        Operation.Buy => "Buying more",
        Operation.Find => "Finding more",
        Operation.Give => "Giving some away",
        Operation.Lose => "Losing some",
        Operation.Double => "Doubling",
        _ => "Tripling",
    };

    private static int Apply(Operation op, int value, int amount) => op switch
    {
        Operation.Buy or Operation.Find => value + amount,
        Operation.Give or Operation.Lose => value - amount,
        Operation.Double => value * 2,
        _ => value * 3,
    };
}
