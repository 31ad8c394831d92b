using Microsoft.ML.Tokenizers;

namespace MentorKd.Modeling.Tokenization;

/// <summary>
/// GPT-2's byte-level BPE from a Hugging Face folder's <c>vocab.json</c> + <c>merges.txt</c>, through
/// Microsoft.ML.Tokenizers' CodeGen tokenizer (the plain BPE tokenizer there is not byte-level).
/// GPT-2 has no pad token, so padding uses end-of-text; pad positions are masked, never learned.
/// </summary>
public sealed class Gpt2BpeTokenizer : ITokenizer
{
    public const string VocabFile = "vocab.json";
    public const string MergesFile = "merges.txt";

    private readonly CodeGenTokenizer _tokenizer;
    private readonly string _vocabPath;
    private readonly string _mergesPath;

    private Gpt2BpeTokenizer(CodeGenTokenizer tokenizer, string vocabPath, string mergesPath, string?[] vocabulary, int endOfText)
    {
        _tokenizer = tokenizer;
        _vocabPath = vocabPath;
        _mergesPath = mergesPath;
        Vocabulary = vocabulary;
        EndOfTextId = endOfText;
    }

    public string Kind => "gpt2-bpe";
    public int VocabSize => Vocabulary.Count;
    public int EndOfTextId { get; }
    public int PadId => EndOfTextId;
    public IReadOnlyList<string?> Vocabulary { get; }

    public static bool ExistsIn(string directory) =>
        File.Exists(Path.Combine(directory, VocabFile)) && File.Exists(Path.Combine(directory, MergesFile));

    public static Gpt2BpeTokenizer Load(string directory)
    {
        var vocabPath = Path.Combine(directory, VocabFile);
        var mergesPath = Path.Combine(directory, MergesFile);
        using var vocab = File.OpenRead(vocabPath);
        using var merges = File.OpenRead(mergesPath);
        CodeGenTokenizer tokenizer;
        try
        {
            tokenizer = CodeGenTokenizer.Create(vocab, merges, addPrefixSpace: false, addBeginOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not IOException)
        {
            throw new InvalidDataException($"{vocabPath} / {mergesPath}: not a valid GPT-2 BPE vocabulary ({e.Message})", e);
        }
        var vocabulary = System.Text.Json.JsonDocument.Parse(File.ReadAllText(vocabPath)).RootElement;
        if (!vocabulary.TryGetProperty(SpecialTokens.EndOfText, out var endOfTextElement))
            throw new InvalidDataException($"{vocabPath}: no '{SpecialTokens.EndOfText}' token.");
        int endOfText = endOfTextElement.GetInt32();
        var tokens = TokenizerVocabulary.ById(vocabulary.EnumerateObject().Select(p => (p.Name, p.Value.GetInt32())));
        return new Gpt2BpeTokenizer(tokenizer, vocabPath, mergesPath, tokens, endOfText);
    }

    public int[] Encode(string text) =>
        _tokenizer.EncodeToIds(text, addPrefixSpace: false, addBeginningOfSentence: false, addEndOfSentence: false).ToArray();

    public string Decode(IEnumerable<int> ids) => _tokenizer.Decode(ids.Where(id => id != EndOfTextId)) ?? "";

    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        CopyUnlessSame(_vocabPath, Path.Combine(directory, VocabFile));
        CopyUnlessSame(_mergesPath, Path.Combine(directory, MergesFile));
    }

    private static void CopyUnlessSame(string from, string to)
    {
        if (Path.GetFullPath(from) == Path.GetFullPath(to)) return;
        File.Copy(from, to + ".tmp", overwrite: true);
        File.Move(to + ".tmp", to, overwrite: true);
    }
}
