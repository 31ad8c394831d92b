using System.Text.RegularExpressions;

namespace MentorKd.Distillation.Tasks;

/// <summary>
/// The Mentor-KD evaluator's scheme (reference §1.8, src/evaluator.py): with "-->" in the output, the first candidate
/// in the text after it, or that text itself (as written) when it holds none; without the marker, the last
/// candidate in the whole output, or the whole output (as written) when it holds none.
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
            var afterMarker = output[(marker + AnswerMarker.Length)..];
            var after = candidates(afterMarker);
            return after.Count > 0 ? after[0] : afterMarker;
        }
        var all = candidates(output);
        return all.Count > 0 ? all[^1] : output;
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
