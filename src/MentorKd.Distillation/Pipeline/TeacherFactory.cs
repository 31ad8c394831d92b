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

        var path = config.ResolvePath(teacher.File!);
        IReadOnlyList<Rationale> recorded = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
            ? JsonLines.Read<Rationale>(path)
            : MentorKdJsonImport.ReadRationales(path, knownQuestions, RationaleSource.Teacher, $"replay:{Path.GetFileName(path)}",
                AnswerRules.For(config.Task.Name).Extract);
        return new ReplayTeacher(recorded, $"replay:{Path.GetFileName(path)}");
    }
}
