using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace MentorKd.Modeling.Tokenization;

/// <summary>
/// A SentencePiece model file (<c>spiece.model</c> as T5 and FlanT5 ship it, or <c>tokenizer.model</c>), Unigram or BPE,
/// run by Microsoft.ML.Tokenizers with its own normalization and whitespace rules. No beginning- or end-of-sentence
/// token is added when encoding (the training examples add end-of-text themselves). End-of-text is the model's
/// end-of-sentence piece; padding is <c>tokenizer_config.json</c>'s <c>pad_token</c>, else the model's pad piece, else end-of-text.
/// </summary>
public sealed class SentencePieceModelTokenizer : ITokenizer
{
    public static readonly IReadOnlyList<string> ModelFiles = ["spiece.model", "tokenizer.model"];

    private readonly SentencePieceTokenizer _tokenizer;
    private readonly string _path;

    private SentencePieceModelTokenizer(SentencePieceTokenizer tokenizer, string path, string?[] vocabulary, int endOfText, int pad)
    {
        (_tokenizer, _path, Vocabulary, EndOfTextId, PadId) = (tokenizer, path, vocabulary, endOfText, pad);
    }

    public string Kind => "sentencepiece";
    public int VocabSize => Vocabulary.Count;
    public int EndOfTextId { get; }
    public int PadId { get; }
    public IReadOnlyList<string?> Vocabulary { get; }

    /// <summary>The folder's SentencePiece model file, or null.</summary>
    public static string? FileIn(string directory) => ModelFiles.Select(f => Path.Combine(directory, f)).FirstOrDefault(File.Exists);

    public static SentencePieceModelTokenizer Load(string directory)
    {
        var path = FileIn(directory) ?? throw new FileNotFoundException($"No SentencePiece model in {directory} ({string.Join(" or ", ModelFiles)}).");
        SentencePieceModelFile file;
        SentencePieceTokenizer tokenizer;
        try
        {
            var bytes = File.ReadAllBytes(path);
            file = SentencePieceModelFile.Read(bytes);
            if (file.EndId < 0 || file.EndId >= file.Pieces.Count)
                throw new InvalidDataException("the model has no end-of-sentence piece: generation needs to know where an answer ends.");
            using var stream = new MemoryStream(file.Loadable(bytes));
            tokenizer = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not IOException)
        {
            throw new InvalidDataException($"{path}: not a SentencePiece model Microsoft.ML.Tokenizers reads ({e.Message}).", e);
        }
        int pad = PadFromConfig(directory, tokenizer) ?? (file.PadId >= 0 ? file.PadId : file.EndId);
        return new SentencePieceModelTokenizer(tokenizer, path, [.. file.Pieces], file.EndId, pad);
    }

    public int[] Encode(string text) =>
        _tokenizer.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false, considerPreTokenization: true, considerNormalization: true).ToArray();

    public string Decode(IEnumerable<int> ids) => _tokenizer.Decode(ids.Where(id => id != EndOfTextId && id != PadId), considerSpecialTokens: false) ?? "";

    /// <summary>Copies the model file (and the tokenizer's config) as they are, so the folder loads the same here and in transformers.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var from in new[] { _path, Path.Combine(Path.GetDirectoryName(_path)!, HuggingFaceBpeTokenizer.ConfigFile), Path.Combine(Path.GetDirectoryName(_path)!, "special_tokens_map.json") })
        {
            var to = Path.Combine(directory, Path.GetFileName(from));
            if (!File.Exists(from) || Path.GetFullPath(from) == Path.GetFullPath(to)) continue;
            File.Copy(from, to + ".tmp", overwrite: true);
            File.Move(to + ".tmp", to, overwrite: true);
        }
    }

    private static int? PadFromConfig(string directory, SentencePieceTokenizer tokenizer)
    {
        var path = Path.Combine(directory, HuggingFaceBpeTokenizer.ConfigFile);
        if (!File.Exists(path)) return null;
        using var config = JsonDocument.Parse(File.ReadAllText(path));
        if (!config.RootElement.TryGetProperty("pad_token", out var token) || token.ValueKind == JsonValueKind.Null) return null;
        var content = token.ValueKind == JsonValueKind.Object ? token.GetProperty("content").GetString()! : token.GetString()!;
        return tokenizer.Vocabulary.TryGetValue(content, out var id) ? id
            : throw new InvalidDataException($"{path}: pad_token '{content}' is not a piece of the SentencePiece model.");
    }
}
