using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks;

namespace MentorKd.Distillation.Pipeline;

/// <summary>A replay teacher's recorded rationales, as a run config names them.</summary>
public static class RecordedRationales
{
    public static string ReplayName(RunConfig config) => $"replay:{Path.GetFileName(config.Teacher.File)}";

    /// <summary>A replay teacher's recorded rationales: our JSONL, or a Mentor-KD JSON file judged with the task's rule.</summary>
    public static IReadOnlyList<Rationale> ReadRecorded(RunConfig config, IReadOnlyList<Question> knownQuestions)
    {
        var path = config.ResolvePath(config.Teacher.File!);
        return path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
            ? JsonLines.Read<Rationale>(path)
            : MentorKdJsonImport.ReadRationales(path, knownQuestions, RationaleSource.Teacher, ReplayName(config), AnswerRules.For(config.Task.Name).Extract);
    }
}
