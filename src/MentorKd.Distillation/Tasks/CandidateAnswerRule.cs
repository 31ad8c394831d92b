using System.Text.RegularExpressions;

namespace MentorKd.Distillation.Tasks;

/// <summary>
/// The Mentor-KD evaluator's scheme (reference §1.8): clean the text, find candidates with a per-task pattern;
/// after "-->" take the first candidate, otherwise the last; with no candidate fall back to the whole string.
/// </summary>
public sealed class CandidateAnswerRule(
    Func<string, IReadOnlyList<string>> candidates,
    Func<string, string> cleanGold,
    Func<string, string, bool> equal) : IAnswerRule
{
    public const string AnswerMarker = "-->";

    public string Extract(string output)
    {
        int marker = output.IndexOf(AnswerMarker, StringComparison.Ordinal);
        if (marker >= 0)
        {
            var after = candidates(output[(marker + AnswerMarker.Length)..]);
            if (after.Count > 0) return after[0];
        }
        var all = candidates(output);
        return all.Count > 0 ? all[^1] : output.Trim();
    }

    public bool IsCorrect(string predicted, string gold) => equal(predicted, cleanGold(gold));

    public static CandidateAnswerRule Pattern(string pattern, Func<string, string>? preprocess = null, Func<string, string>? cleanGold = null,
        Func<string, string, bool>? equal = null)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        return new CandidateAnswerRule(
            text => regex.Matches((preprocess ?? (t => t))(text)).Select(m => m.Value).ToList(),
            cleanGold ?? (g => g.Trim()),
            equal ?? ((a, b) => a == b));
    }
}
