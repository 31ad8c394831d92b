using MentorKd.Distillation.Data;
using MentorKd.Distillation.Teachers;
using MentorKd.ServiceDefaults;

namespace MentorKd.TeacherGateway;

/// <summary>A simulated or replay teacher behind the gateway: no calls to fail, whitespace words counted as tokens.</summary>
public sealed class OfflineTeacher(ITeacher teacher) : IGatewayTeacher
{
    public string Name => teacher.Name;

    public string PromptName => "";

    public int MaxConcurrentCalls => 1;

    public async Task<AnnotatedQuestion> AnnotateAsync(Question question, int count, UsageMeter meter, CancellationToken cancellationToken)
    {
        var rationales = await teacher.AnnotateAsync(question, count, cancellationToken);
        meter.RecordOffline(question.Text, rationales.Select(r => r.Text));
        return new AnnotatedQuestion(question, rationales, []);
    }

    public async Task<SynthesisOutcome> SynthesizeAsync(Question original, SynthesisMode mode, int count, int verifySamples, UsageMeter meter, CancellationToken cancellationToken)
    {
        RpcErrors.Require(teacher is SimulatedTeacher, "teacher", $"{teacher.Name} only replays recorded rationales and cannot write new problems.");
        var outcome = await ((SimulatedTeacher)teacher).SynthesizeAsync(original, mode, count, cancellationToken);
        meter.RecordOffline(original.Text, outcome.Accepted.SelectMany(p => (string[])[p.Question.Text, p.Rationale.Text]));
        return outcome;
    }
}
