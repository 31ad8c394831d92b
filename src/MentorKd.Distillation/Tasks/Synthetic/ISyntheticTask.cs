using MentorKd.Distillation.Data;

namespace MentorKd.Distillation.Tasks.Synthetic;

/// <summary>
/// A task whose questions we generate (seeded, unlimited) and can solve step by step, so a simulated teacher
/// can write rationales — right ones, or ones with a plausible mistake. Difficulty is the task's knob
/// (words, flips, swaps, steps) that FDD turns to ask for harder or similar problems.
/// </summary>
public interface ISyntheticTask
{
    string Name { get; }
    int MinDifficulty { get; }
    int MaxDifficulty { get; }
    int DefaultDifficulty { get; }

    /// <summary>How many distinct ways of writing a rationale <see cref="Solve"/> knows.</summary>
    int PhrasingCount { get; }

    Question Generate(Random random, string id, int difficulty);

    /// <summary>The problem's difficulty as its text states it (words, people, swaps, operations).</summary>
    int DifficultyOf(Question question);

    /// <summary>A harder variation of <paramref name="original"/>: its own content with one more step (a word, a person, a
    /// swap, an operation), answered by the task's exact solver; null when it is at <see cref="MaxDifficulty"/> already.</summary>
    Question? Harder(Question original, Random random, string id);

    /// <summary>Writes a chain of thought ending in an answer. With <paramref name="mistake"/> one step goes wrong
    /// (and the answer follows from it), as a careless solver would.</summary>
    SolvedRationale Solve(Question question, int phrasing, Random random, bool mistake);
}

/// <summary>A rationale text and the answer it arrives at.</summary>
public sealed record SolvedRationale(string Text, string Answer);
