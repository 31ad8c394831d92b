using MentorKd.Augmentation.Datasets;
using MentorKd.Storage;
using Question = MentorKd.Distillation.Data.Question;

namespace MentorKd.Augmentation.Runs;

/// <summary>A run's dev and test questions by text. A question added for retraining that is one of them would be
/// trained on and then scored: it is refused (Runs API) or left out of the round (bucket uploads).</summary>
public sealed class HeldOutQuestions
{
    private readonly Dictionary<string, string> _byText = new(StringComparer.Ordinal);

    private HeldOutQuestions() { }

    /// <summary>Empty while the run's data is not prepared yet (questions added then are checked when their round runs).</summary>
    public static async Task<HeldOutQuestions> ReadAsync(IObjectStore store, DatasetRegistry registry, RunKeys keys, CancellationToken cancellationToken)
    {
        var heldOut = new HeldOutQuestions();
        foreach (var (split, key) in new[] { ("test", keys.TestQuestions), ("dev", keys.DevQuestions) })
            if (await store.StatAsync(key, cancellationToken) is not null)
                foreach (var question in await registry.ReadRowsAsync<Question>(key, cancellationToken))
                    heldOut._byText.TryAdd(question.Text.Trim(), $"{split} question '{question.Id}'");
        return heldOut;
    }

    /// <summary>Which held-out question <paramref name="question"/> repeats ("test question 'q17'"), or null.</summary>
    public string? Find(Question question) => _byText.GetValueOrDefault(question.Text.Trim());
}
