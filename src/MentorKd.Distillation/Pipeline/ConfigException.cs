namespace MentorKd.Distillation.Pipeline;

/// <summary>A config value that cannot run; <see cref="Field"/> is its path (e.g. "student.training.lambda").</summary>
public sealed class ConfigException(string field, string problem) : ArgumentException($"config: {field}: {problem}", field)
{
    public string Field { get; } = field;
}
