namespace MentorKd.Distillation.Data;

/// <summary>Questions are told apart by id (rationales, evaluations and held-out checks find theirs by it), so a set of
/// questions with one id twice is refused wherever it enters the platform.</summary>
public static class QuestionIds
{
    /// <summary>The first question whose id an earlier one has, with that earlier one's index; null when the ids are unique.</summary>
    public static (int Index, int Earlier)? FirstRepeat(IReadOnlyList<Question> questions)
    {
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < questions.Count; i++)
            if (!first.TryAdd(questions[i].Id, i)) return (i, first[questions[i].Id]);
        return null;
    }
}
