using System.Text.Json;
using System.Text.Json.Serialization;

namespace MentorKd.Distillation.Data;

/// <summary>
/// Reads the official Mentor-KD JSON files (arrays of {input, chain, answer, initial_correct, completion?}):
/// question lists, teacher rationales and mentor samples. Question ids are the task name plus the position in
/// the training-question file, so rationales are joined to questions by their exact input text.
/// </summary>
public static class MentorKdJsonImport
{
    private sealed record Row(
        [property: JsonPropertyName("input")] string? Input,
        [property: JsonPropertyName("chain")] string? Chain,
        [property: JsonPropertyName("answer")] string? Answer,
        [property: JsonPropertyName("initial_correct")] bool? InitialCorrect,
        [property: JsonPropertyName("completion")] string? Completion);

    public static IReadOnlyList<Question> ReadQuestions(string path, string task, string idPrefix)
    {
        var rows = ReadRows(path);
        return rows.Select((row, i) => new Question($"{idPrefix}-{i:D5}", task,
            Required(row.Input, path, i, "input").TrimEnd('\n'), Required(row.Answer, path, i, "answer").Trim())).ToList();
    }

    /// <param name="questions">Questions the rationales belong to, matched by input text.</param>
    public static IReadOnlyList<Rationale> ReadRationales(string path, IReadOnlyList<Question> questions, string source, string producer,
        Func<string, string> extractAnswer, SamplingSettings? sampling = null)
    {
        var byText = questions.GroupBy(q => q.Text).ToDictionary(g => g.Key, g => g.First());
        var rows = ReadRows(path);
        var rationales = new List<Rationale>(rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            var input = Required(rows[i].Input, path, i, "input").TrimEnd('\n');
            if (!byText.TryGetValue(input, out var question))
                throw new InvalidDataException($"{path}: row {i}: its input is not among the training questions.");
            var chain = Required(rows[i].Chain, path, i, "chain").Trim();
            var extracted = rows[i].Completion is { } completion ? completion.Trim() : extractAnswer(chain);
            rationales.Add(new Rationale(question.Id, chain, extracted, rows[i].InitialCorrect ?? false, source, producer, sampling));
        }
        return rationales;
    }

    private static List<Row> ReadRows(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"'{path}' not found.", path);
        try
        {
            return JsonSerializer.Deserialize<List<Row>>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a Mentor-KD JSON array ({e.Message}).", e);
        }
    }

    private static string Required(string? value, string path, int row, string field) =>
        value ?? throw new InvalidDataException($"{path}: row {row}: missing '{field}'.");
}
