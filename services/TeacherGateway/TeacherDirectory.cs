using System.ComponentModel.DataAnnotations;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Teachers;
using MentorKd.ServiceDefaults;
using MentorKd.TeacherGateway.OpenAi;
using Microsoft.Extensions.Options;

namespace MentorKd.TeacherGateway;

/// <summary>
/// The gateway's teachers: the default one (a simulated teacher per synthetic task, a replay teacher, or a named LLM
/// teacher) and the named LLM teachers a request may ask for. Named teachers are built (template loaded, key found)
/// when the gateway starts, so a misconfigured one stops it with a message naming the teacher.
/// </summary>
public sealed class TeacherDirectory
{
    private readonly TeacherGatewayOptions _options;
    private readonly OfflineTeacher? _replay;
    private readonly Dictionary<string, OfflineTeacher> _simulated = new();
    private readonly Dictionary<string, OpenAiTeacher> _named = new(StringComparer.Ordinal);

    public TeacherDirectory(IOptions<TeacherGatewayOptions> options, TeacherCallLedger ledger)
    {
        _options = options.Value;
        // The options were validated at start-up: a replay teacher has an existing file.
        if (_options.Kind == "replay")
            _replay = new OfflineTeacher(new ReplayTeacher(JsonLines.Read<Rationale>(_options.ReplayFile!), $"replay:{Path.GetFileName(_options.ReplayFile)}"));
        foreach (var (name, teacher) in _options.Teachers)
        {
            var problems = new List<ValidationResult>();
            if (!Validator.TryValidateObject(teacher, new ValidationContext(teacher), problems, validateAllProperties: true))
                throw new OptionsValidationException(name, typeof(OpenAiTeacherOptions),
                    problems.Select(p => $"TeacherGateway:Teachers:{name}: {p.ErrorMessage}"));
            _named[name] = new OpenAiTeacher(name, teacher, ledger);
        }
        if (_options.Kind == "openai" && (_options.DefaultTeacher is null || !_named.ContainsKey(_options.DefaultTeacher)))
            throw new OptionsValidationException(nameof(TeacherGatewayOptions.DefaultTeacher), typeof(TeacherGatewayOptions),
                [$"TeacherGateway:DefaultTeacher must name one of TeacherGateway:Teachers ({string.Join(", ", _named.Keys)}) when Kind is openai."]);
    }

    public string Name => Default(null)?.Name ?? $"simulated-teacher(error-rate={_options.ErrorRate:0.##})";

    public IEnumerable<string> Named => _named.Keys.Order();

    public string DefaultPromptName => Default(null)?.PromptName ?? "";

    /// <summary>The teacher for a question: the named one (InvalidArgument naming the field when unknown), or the
    /// default. Null when the default cannot annotate the task.</summary>
    public IGatewayTeacher? For(string task, string? name, string field)
    {
        if (!string.IsNullOrEmpty(name))
        {
            RpcErrors.Require(_named.ContainsKey(name), field, $"'{name}' is not one of this gateway's teachers ({string.Join(", ", Named)}).");
            return _named[name];
        }
        return Default(task);
    }

    private IGatewayTeacher? Default(string? task)
    {
        if (_replay is not null) return _replay;
        if (_options.Kind == "openai") return _named[_options.DefaultTeacher!];
        if (task is null) return null;
        lock (_simulated)
        {
            if (_simulated.TryGetValue(task, out var teacher)) return teacher;
            if (!SyntheticTasks.TryGet(task, out var generator)) return null;
            return _simulated[task] = new OfflineTeacher(new SimulatedTeacher(generator, _options.ErrorRate, _options.Seed));
        }
    }
}
