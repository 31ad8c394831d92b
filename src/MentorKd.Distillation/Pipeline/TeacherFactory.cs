using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Teachers;

namespace MentorKd.Distillation.Pipeline;

/// <summary>Builds the teacher a config asks for.</summary>
public static class TeacherFactory
{
    /// <param name="knownQuestions">Every question recorded rationales may refer to (train and dev).</param>
    public static ITeacher Create(RunConfig config, IReadOnlyList<Question> knownQuestions)
    {
        var teacher = config.Teacher;
        if (teacher.Kind == "simulated")
            return new SimulatedTeacher(SyntheticTasks.Get(config.Task.Name), teacher.ErrorRate, config.Seed);

        return new ReplayTeacher(ReadRecorded(config, knownQuestions), ReplayName(config));
    }

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
