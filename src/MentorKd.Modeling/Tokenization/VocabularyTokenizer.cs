using System.Text;
using System.Text.Json;

namespace MentorKd.Modeling.Tokenization;

/// <summary>
/// Shared base of the from-scratch tokenizers: a fixed list of token strings whose first three entries are
/// end-of-text, pad and unknown. Saved beside the model as <c>tokenizer.json</c> in our own small format.
/// </summary>
public abstract class VocabularyTokenizer : ITokenizer
{
    public const string FileName = "tokenizer.json";
    protected const int EndOfText = 0, Pad = 1, Unknown = 2;

    private readonly string[] _tokens;
    protected readonly Dictionary<string, int> Ids;

    protected VocabularyTokenizer(IReadOnlyList<string> tokens)
    {
        if (tokens.Count < 3 || tokens[EndOfText] != SpecialTokens.EndOfText || tokens[Pad] != SpecialTokens.Pad || tokens[Unknown] != SpecialTokens.Unknown)
            throw new InvalidDataException("A vocabulary must start with <|endoftext|>, <|pad|>, <|unk|>.");
        _tokens = tokens.ToArray();
        Ids = new Dictionary<string, int>(_tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < _tokens.Length; i++)
            if (!Ids.TryAdd(_tokens[i], i)) throw new InvalidDataException($"Token '{_tokens[i]}' appears twice in the vocabulary.");
    }

    public abstract string Kind { get; }
    public int VocabSize => _tokens.Length;
    public int EndOfTextId => EndOfText;
    public int PadId => Pad;
    public IReadOnlyList<string> Tokens => _tokens;
    public IReadOnlyList<string?> Vocabulary => _tokens;

    public abstract int[] Encode(string text);

    public string Decode(IEnumerable<int> ids)
    {
        var text = new StringBuilder();
        foreach (var id in ids)
        {
            if (id is EndOfText or Pad) continue;
            text.Append(id >= 0 && id < _tokens.Length ? _tokens[id] : SpecialTokens.Unknown);
        }
        return text.ToString();
    }

    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var json = JsonSerializer.Serialize(new VocabularyFile(Kind, _tokens), new JsonSerializerOptions { WriteIndented = true });
        var path = Path.Combine(directory, FileName);
        File.WriteAllText(path + ".tmp", json);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    protected static List<string> WithSpecials(IEnumerable<string> tokens) =>
        [SpecialTokens.EndOfText, SpecialTokens.Pad, SpecialTokens.Unknown, .. tokens];

    internal sealed record VocabularyFile(string Kind, string[] Tokens);
}
