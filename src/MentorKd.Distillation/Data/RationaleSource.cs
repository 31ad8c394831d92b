namespace MentorKd.Distillation.Data;

/// <summary>Who wrote a rationale.</summary>
public static class RationaleSource
{
    public const string Teacher = "teacher";
    public const string Mentor = "mentor";
    public const string Student = "student";
}
