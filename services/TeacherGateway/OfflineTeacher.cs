using MentorKd.Distillation.Data;
using MentorKd.Distillation.Teachers;

namespace MentorKd.TeacherGateway;

/// <summary>A simulated or replay teacher behind the gateway: no calls to fail, whitespace words counted as tokens.</summary>
public sealed class OfflineTeacher(ITeacher teacher) : IGatewayTeacher
{
    public ITeacher Teacher => teacher;

    public string Name => teacher.Name;

    public string PromptName => "";

    public int MaxConcurrentCalls => 1;

    public async Task<AnnotatedQuestion> AnnotateAsync(Question question, int count, UsageMeter meter, CancellationToken cancellationToken)
    {
        var rationales = await teacher.AnnotateAsync(question, count, cancellationToken);
        meter.RecordOffline(question.Text, rationales.Select(r => r.Text));
        return new AnnotatedQuestion(question, rationales, []);
    }
}
