using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Teachers;
using MentorKd.ServiceDefaults;

namespace MentorKd.TeacherGateway;

/// <summary>
/// New problems written by one of the gateway's teachers from existing ones (the teacher's side of FDD): harder
/// variations or similar problems, n per input, each verified by the teacher (self-consistency for LLMs, the exact solver
/// for synthetic tasks) and then checked against the held-out questions it must not duplicate (dev and test), the inputs
/// and the problems accepted before it. The one path behind the gRPC Synthesize stream and the synthesize-problems queue.
/// </summary>
public sealed partial class QuestionSynthesis(TeacherDirectory teachers, TeacherUsage usage)
{
    public const int MaxProblemsPerQuestion = 16;

    public async IAsyncEnumerable<SynthesisOutcome> SynthesizeAsync(IReadOnlyList<Question> questions, SynthesisMode mode, int perQuestion, string teacher,
        IEnumerable<string> heldOut, int verifySamples, UsageMeter meter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        RpcErrors.Require(questions.Count > 0, "questions", "at least one question is required.");
        RpcErrors.Require(perQuestion is > 0 and <= MaxProblemsPerQuestion, "per_question", $"must be in 1..{MaxProblemsPerQuestion} (got {perQuestion}).");
        RpcErrors.Require(verifySamples is >= 0 and <= 16, "verify_samples", $"must be in 0..16 (got {verifySamples}).");
        var chosen = questions.Select(q => teachers.For(q.Task, teacher, "teacher")).ToList();
        for (int i = 0; i < questions.Count; i++)
            RpcErrors.Require(chosen[i] is not null, $"questions[{i}].task", $"this gateway's teacher cannot write '{questions[i].Task}' problems.");

        var held = heldOut.Select(Normalized).ToHashSet();
        var seen = questions.Select(q => Normalized(q.Text)).ToHashSet();
        for (int i = 0; i < questions.Count; i++)
        {
            var writer = chosen[i]!;
            var k = verifySamples > 0 ? verifySamples : (writer as OpenAi.OpenAiTeacher)?.Options.VerificationSamples ?? 1;
            var outcome = await writer.SynthesizeAsync(questions[i], mode, perQuestion, k, usage.Meter(writer.Name, meter), cancellationToken);
            var (accepted, rejected) = (new List<SynthesizedProblem>(), outcome.Rejected.ToList());
            foreach (var problem in outcome.Accepted)
            {
                var text = Normalized(problem.Question.Text);
                if (held.Contains(text)) rejected.Add(new RejectedProblem(problem.DerivedFrom, mode, problem.Question.Text, "duplicates a held-out question (dev, test, or one already trained on)"));
                else if (!seen.Add(text)) rejected.Add(new RejectedProblem(problem.DerivedFrom, mode, problem.Question.Text, "duplicates an input or an earlier new problem"));
                else accepted.Add(problem);
            }
            yield return new SynthesisOutcome(accepted, rejected);
        }
    }

    /// <summary>A question's text for duplicate checks: case, punctuation and spacing do not make a problem new.</summary>
    public static string Normalized(string text) => NonWord().Replace(text.ToLowerInvariant(), " ").Trim();

    [GeneratedRegex(@"[^\p{L}\p{N}]+")]
    private static partial Regex NonWord();
}
