using MentorKd.Distillation.Data;
using MentorKd.Distillation.Teachers;

namespace MentorKd.TeacherGateway;

/// <summary>A teacher as the gateway uses it: annotations metered per request, calls that failed after every retry
/// reported beside the rationales. Offline teachers (simulated, replay) and LLM teachers are both behind it.</summary>
public interface IGatewayTeacher
{
    /// <summary>Recorded as each rationale's producer and shown in reports.</summary>
    string Name { get; }

    /// <summary>The prompt template an LLM teacher is asked with (empty for offline teachers).</summary>
    string PromptName { get; }

    /// <summary>Questions of one annotation asked at once.</summary>
    int MaxConcurrentCalls { get; }

    Task<AnnotatedQuestion> AnnotateAsync(Question question, int count, UsageMeter meter, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="count"/> new problems from <paramref name="original"/>, each verified before it is
    /// accepted (<paramref name="verifySamples"/> agreeing solutions for an LLM; the exact solver for synthetic tasks).</summary>
    Task<SynthesisOutcome> SynthesizeAsync(Question original, SynthesisMode mode, int count, int verifySamples, UsageMeter meter, CancellationToken cancellationToken);
}

/// <summary>A question's judged rationales, and the samples that could not be had (after every retry).</summary>
public sealed record AnnotatedQuestion(Question Question, IReadOnlyList<Rationale> Rationales, IReadOnlyList<TeacherFailure> Failures);
