using MentorKd.Distillation.Data;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Teachers;

namespace MentorKd.Embedded;

/// <summary>An embedded platform set up for one run config: its teacher-gateway fronts the teacher the config asks for
/// (an LLM teacher the config defines is added to its named teachers).</summary>
public static class EmbeddedRunSetup
{
    public static EmbeddedPlatformOptions For(RunConfig config, string dataRoot)
    {
        var options = new EmbeddedPlatformOptions
        {
            DataRoot = dataRoot, TeacherErrorRate = config.Teacher.ErrorRate, TeacherSeed = config.Seed, Device = config.Device, Threads = config.Threads,
        };
        // A run that defines its LLM teacher brings it to the embedded gateway under the name it asks for.
        if (config.Teacher.DefinesLlmTeacher) return options with { Teachers = new Dictionary<string, OpenAiTeacherOptions> { [config.Teacher.Name!] = config.Teacher } };
        if (config.Teacher.Kind != "replay") return options;

        // The gateway replays JSONL rationales; a Mentor-KD JSON file is judged once here against the run's questions.
        var file = config.ResolvePath(config.Teacher.File!);
        if (!file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            var splits = DatasetPreparation.Prepare(config);
            var recorded = RecordedRationales.ReadRecorded(config, [.. splits.Train, .. splits.Dev]);
            file = Path.Combine(Path.GetFullPath(dataRoot), "teacher-replay.jsonl");
            Directory.CreateDirectory(dataRoot);
            JsonLines.Write(file, recorded);
        }
        return options with { TeacherKind = "replay", TeacherReplayFile = file };
    }
}
