using System.Text.RegularExpressions;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks;

namespace MentorKd.Distillation.Teachers;

/// <summary>A teacher's reply read as a chain of thought: the rationale, the answer the task's rule finds in it, and
/// why no rationale could be kept (null when one could).</summary>
public sealed record TeacherReply(string Rationale, string Answer, string? Problem);

/// <summary>
/// Reads an LLM teacher's free-text reply into the platform's <c>rationale --&gt; answer</c> form. A reply in that form
/// already (a model trained here) splits at the marker. Otherwise the answer is the one the reply states last
/// ("... the answer is X", as zero-shot chain-of-thought prompts ask for), found with the task's own answer rule; the
/// rationale is the reply, trimmed. Empty replies, refusals and replies with no answer are kept as problems, so a
/// report can count them, never as empty rationales.
/// </summary>
public static partial class TeacherReplies
{
    public static TeacherReply Read(string reply, string task)
    {
        var text = (reply ?? "").Trim();
        if (text.Length == 0) return new TeacherReply("", "", "empty reply");
        var rule = AnswerRules.For(task);
        int marker = text.IndexOf(CandidateAnswerRule.AnswerMarker, StringComparison.Ordinal);
        if (marker >= 0)
        {
            var rationale = text[..marker].Trim();
            var answer = rule.Extract(text);
            return new TeacherReply(rationale, answer, rationale.Length == 0 ? "no rationale before the answer marker" : answer.Length == 0 ? "no answer after the marker" : null);
        }
        if (Refusal().IsMatch(text)) return new TeacherReply(text, "", "refusal");
        var statements = AnswerStatement().Matches(text);
        if (statements.Count == 0) return new TeacherReply(text, "", "no answer statement (\"the answer is …\")");
        var stated = rule.Extract(text[(statements[^1].Index + statements[^1].Length)..]);
        return new TeacherReply(text, stated, stated.Length == 0 ? "the stated answer is not one the task accepts" : null);
    }

    /// <summary>A judged rationale from a reply: correct only when an answer was found and matches gold.</summary>
    public static Rationale Judge(Question question, TeacherReply reply, string producer, SamplingSettings? sampling, IReadOnlyList<TokenLogprob>? logprobs = null)
    {
        bool correct = reply.Problem is null && question.Answer.Length > 0 && AnswerRules.For(question.Task).IsCorrect(reply.Answer, question.Answer);
        return new Rationale(question.Id, reply.Rationale, reply.Answer, correct, RationaleSource.Teacher, producer, sampling, reply.Problem, logprobs);
    }

    /// <summary>The new problem in a teacher's reply to a synthesis prompt: the text after its last "Problem:" (or "New
    /// problem:", "Question:") label, up to any answer or solution it added anyway; null when that leaves no problem.</summary>
    public static string? ReadProblem(string reply)
    {
        var text = (reply ?? "").Trim();
        var labels = ProblemLabel().Matches(text);
        if (labels.Count > 0) text = text[(labels[^1].Index + labels[^1].Length)..];
        if (TrailingSection().Match(text) is { Success: true } trailing) text = text[..trailing.Index];
        text = text.Trim().Trim('"', '*').Trim();
        return text.Length >= 10 && !Refusal().IsMatch(text) ? text : null;
    }

    [GeneratedRegex(@"(?:^|\n)[ \t]*(?:\*\*)?(?:new\s+)?(?:problem|question)(?:\*\*)?\s*:(?:\*\*)?", RegexOptions.IgnoreCase)]
    private static partial Regex ProblemLabel();

    [GeneratedRegex(@"\n[ \t]*(?:\*\*)?(?:answer|solution|explanation|reasoning)(?:\*\*)?\s*:", RegexOptions.IgnoreCase)]
    private static partial Regex TrailingSection();

    [GeneratedRegex(@"\b(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)", RegexOptions.IgnoreCase)]
    private static partial Regex AnswerStatement();

    [GeneratedRegex(@"^(?:I(?:'m| am) sorry|I can(?:no|')t (?:help|assist|answer)|As an AI)", RegexOptions.IgnoreCase)]
    private static partial Regex Refusal();
}
