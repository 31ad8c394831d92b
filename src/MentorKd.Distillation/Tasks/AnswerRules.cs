using System.Globalization;
using System.Text.RegularExpressions;

namespace MentorKd.Distillation.Tasks;

/// <summary>
/// Answer extraction and gold normalisation for the paper's eight tasks, exactly as the reference evaluator
/// (quirks included: GSM8K/ASDiv compare strings, so "18.0" ≠ "18"), plus our synthetic tasks and a
/// float-tolerant numeric rule.
/// </summary>
public static partial class AnswerRules
{
    [GeneratedRegex(@"-?\d+(?:\.\d+)?")] private static partial Regex Number();
    [GeneratedRegex(@"\s")] private static partial Regex Whitespace();
    [GeneratedRegex(@"[""'\n.:,\s]")] private static partial Regex YesNoSeparators();

    /// <summary>Numbers compared as strings after removing thousands separators (GSM8K, ASDiv).</summary>
    public static readonly IAnswerRule NumericString = CandidateAnswerRule.Pattern(Number().ToString(),
        preprocess: t => t.Replace(",", ""), cleanGold: g => g.Replace(",", "").Trim());

    /// <summary>Numbers compared as floats within 1e-6 (SVAMP; our arithmetic task).</summary>
    public static readonly IAnswerRule NumericTolerant = CandidateAnswerRule.Pattern(Number().ToString(),
        preprocess: t => t.Replace(",", ""), cleanGold: g => g.Replace(",", "").Trim(),
        equal: (p, g) => TryNumber(p, out var a) && TryNumber(g, out var b) && Math.Abs(a - b) <= 1e-6);

    public static readonly IAnswerRule CommonsenseQa = CandidateAnswerRule.Pattern("[ABCDE]",
        cleanGold: g => g.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var first, ..] ? first[..1] : g.Trim());

    public static readonly IAnswerRule DateUnderstanding = CandidateAnswerRule.Pattern("[ABCDEF]");

    public static IAnswerRule ChoiceLetters(int count) => CandidateAnswerRule.Pattern($"[A-{(char)('A' + count - 1)}]");

    /// <summary>StrategyQA and coin flip: yes/no words after lower-casing and replacing punctuation with spaces.</summary>
    public static readonly IAnswerRule YesNo = new CandidateAnswerRule(
        text => YesNoSeparators().Replace(text.ToLowerInvariant(), " ").Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => w is "yes" or "no").ToList(),
        g => g.Trim().ToLowerInvariant(),
        (a, b) => a == b);

    /// <summary>Last letter concatenation: quotes, periods and whitespace deleted, the whole rest (even empty) is the one candidate; case-insensitive.</summary>
    public static readonly IAnswerRule LastLetters = new CandidateAnswerRule(
        text => [Whitespace().Replace(text.Replace("\"", "").Replace("'", "").Replace(".", ""), "")],
        g => g.Trim(),
        (a, b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase));

    public static IAnswerRule For(string task) => task switch
    {
        TaskNames.Gsm8k or TaskNames.Asdiv => NumericString,
        TaskNames.Svamp or TaskNames.AddSub or TaskNames.SingleEq or TaskNames.Arithmetic => NumericTolerant,
        TaskNames.CommonsenseQa => CommonsenseQa,
        TaskNames.StrategyQa or TaskNames.CoinFlip => YesNo,
        TaskNames.DateUnderstanding => DateUnderstanding,
        TaskNames.TrackingShuffledObjects => ChoiceLetters(3),
        TaskNames.TrackingShuffledObjects5 => ChoiceLetters(5),
        TaskNames.TrackingShuffledObjects7 => ChoiceLetters(7),
        TaskNames.LastLetterConcatenation => LastLetters,
        _ => throw new ArgumentException($"unknown task '{task}' (known: {string.Join(", ", TaskNames.All)}).", nameof(task)),
    };

    private static bool TryNumber(string text, out double value) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
}
