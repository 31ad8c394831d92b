using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Teachers;
using Microsoft.Extensions.Options;

namespace MentorKd.TeacherGateway;

/// <summary>The teacher for a question's task: one simulated teacher per synthetic task, or one replay teacher for all.</summary>
public sealed class TeacherDirectory
{
    private readonly TeacherGatewayOptions _options;
    private readonly ReplayTeacher? _replay;
    private readonly Dictionary<string, ITeacher> _simulated = new();

    public TeacherDirectory(IOptions<TeacherGatewayOptions> options)
    {
        _options = options.Value;
        // The options were validated at start-up: a replay teacher has an existing file.
        if (_options.Kind == "replay")
            _replay = new ReplayTeacher(JsonLines.Read<Rationale>(_options.ReplayFile!), $"replay:{Path.GetFileName(_options.ReplayFile)}");
    }

    public string Name => _replay?.Name ?? $"simulated-teacher(error-rate={_options.ErrorRate:0.##})";

    /// <summary>Null when this gateway cannot annotate the task.</summary>
    public ITeacher? For(string task)
    {
        if (_replay is not null) return _replay;
        lock (_simulated)
        {
            if (_simulated.TryGetValue(task, out var teacher)) return teacher;
            if (!SyntheticTasks.TryGet(task, out var generator)) return null;
            return _simulated[task] = new SimulatedTeacher(generator, _options.ErrorRate, _options.Seed);
        }
    }
}
