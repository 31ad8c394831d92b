namespace MentorKd.Distillation.Data;

/// <summary>A task question with its gold answer. <see cref="Difficulty"/> is the generator's knob, when known.</summary>
public sealed record Question(string Id, string Task, string Text, string Answer, int? Difficulty = null);
