using System.Text.Json;
using MentorKd.Modeling.Tokenization;

namespace MentorKd.Modeling.Training;

/// <summary>
/// Training text from a file: plain text (one document), or JSONL with either {"text": …} lines (documents) or
/// {"prompt": …, "completion": …} lines (only the completion is learned).
/// </summary>
public sealed record TextCorpus(IReadOnlyList<string> Documents, IReadOnlyList<(string Prompt, string Completion)> Pairs)
{
    public IEnumerable<string> AllText => Documents.Concat(Pairs.SelectMany(p => new[] { p.Prompt, p.Completion }));

    public static TextCorpus Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"data file '{path}' not found.", path);
        if (!path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            var text = File.ReadAllText(path);
            if (text.Length == 0) throw new InvalidDataException($"data file '{path}' is empty.");
            return new TextCorpus([text], []);
        }

        var documents = new List<string>();
        var pairs = new List<(string, string)>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement row;
            try { row = JsonDocument.Parse(line).RootElement; }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{lineNumber}: not valid JSON ({e.Message})."); }
            if (row.ValueKind == JsonValueKind.Object && row.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
                documents.Add(text.GetString()!);
            else if (row.ValueKind == JsonValueKind.Object && row.TryGetProperty("prompt", out var prompt) && row.TryGetProperty("completion", out var completion))
                pairs.Add((prompt.GetString() ?? "", completion.GetString() ?? ""));
            else
                throw new InvalidDataException($"{path}:{lineNumber}: expected {{\"text\": …}} or {{\"prompt\": …, \"completion\": …}}.");
        }
        if (documents.Count + pairs.Count == 0) throw new InvalidDataException($"data file '{path}' has no rows.");
        return new TextCorpus(documents, pairs);
    }

    /// <summary>Splits into training examples: documents are concatenated (end-of-text between) and cut into
    /// windows of <paramref name="windowLength"/>; pairs become prompt → completion + end-of-text.</summary>
    public ExampleSource ToExamples(ITokenizer tokenizer, int windowLength, double validationShare)
    {
        var stream = new List<int>();
        foreach (var document in Documents)
        {
            stream.AddRange(tokenizer.Encode(document));
            stream.Add(tokenizer.EndOfTextId);
        }
        var pairs = Pairs.Select(p => new LanguageModelExample(
            p.Prompt.Length == 0 ? [tokenizer.EndOfTextId] : tokenizer.Encode(p.Prompt),
            [.. tokenizer.Encode(p.Completion), tokenizer.EndOfTextId])).ToList();

        int validationTokens = stream.Count > 4 * windowLength ? (int)(stream.Count * validationShare) : 0;
        int validationPairs = pairs.Count >= 20 ? (int)(pairs.Count * validationShare) : 0;
        return new ExampleSource(
            stream.Take(stream.Count - validationTokens).ToArray(), pairs.Skip(validationPairs).ToList(),
            stream.Skip(stream.Count - validationTokens).ToArray(), pairs.Take(validationPairs).ToList(),
            windowLength);
    }
}
