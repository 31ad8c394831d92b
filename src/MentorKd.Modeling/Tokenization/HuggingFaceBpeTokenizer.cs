using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace MentorKd.Modeling.Tokenization;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> with a BPE model — byte-level as GPT-2, SmolLM2, Qwen2 and Llama 3 write them —
/// run by Microsoft.ML.Tokenizers' BPE tokenizer: the vocabulary and merges, the pre-tokenizer's split pattern (GPT-2's
/// for <c>ByteLevel</c> with <c>use_regex</c>, or a <c>Split</c> regex), the added tokens kept whole, and NFC
/// normalization when the file asks for it (applied here: the library's BPE tokenizer leaves its normalizer option unused;
/// see <see cref="Nfc"/> for runtimes without ICU). End-of-text and padding come from <c>tokenizer_config.json</c> (<c>eos_token</c>,
/// <c>pad_token</c>), else the model's <c>config.json</c>. What the format allows and this does not compute (another model
/// type, normalizers, pre-tokenizers) is refused at load, naming the file and the JSON path.
/// </summary>
public sealed class HuggingFaceBpeTokenizer : ITokenizer
{
    public const string TokenizerFile = "tokenizer.json";
    public const string ConfigFile = "tokenizer_config.json";

    /// <summary>GPT-2's split (the ByteLevel pre-tokenizer's <c>use_regex</c>).</summary>
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly BpeTokenizer _tokenizer;
    private readonly string _directory;
    private readonly bool _nfc;

    private HuggingFaceBpeTokenizer(BpeTokenizer tokenizer, string directory, bool nfc, string?[] vocabulary, int endOfText, int pad)
    {
        (_tokenizer, _directory, _nfc, Vocabulary, EndOfTextId, PadId) = (tokenizer, directory, nfc, vocabulary, endOfText, pad);
    }

    public string Kind => "hf-bpe";
    public int VocabSize => Vocabulary.Count;
    public IReadOnlyList<string?> Vocabulary { get; }
    public int EndOfTextId { get; }
    public int PadId { get; }

    /// <summary>Whether the folder's tokenizer.json is Hugging Face's (it has a <c>model</c>; this project's own word and
    /// character vocabularies share the file name).</summary>
    public static bool ExistsIn(string directory) => ModelTypeIn(directory) is not null;

    /// <summary>The <c>model.type</c> of the folder's Hugging Face tokenizer.json ("BPE", "Unigram", …), or null when there is none.</summary>
    public static string? ModelTypeIn(string directory)
    {
        var path = Path.Combine(directory, TokenizerFile);
        if (!File.Exists(path)) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("model", out var model)) return null;
            return model.ValueKind == JsonValueKind.Object && model.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString() : "BPE";
        }
        catch (JsonException) { return null; } // the vocabulary loader names what is wrong with it
    }

    public static HuggingFaceBpeTokenizer Load(string directory)
    {
        var path = Path.Combine(directory, TokenizerFile);
        JsonDocument document;
        try { document = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})."); }
        using (document)
        {
            var root = document.RootElement;
            void Refuse(string at, string why) => throw new InvalidDataException($"{path}: {at} {why}.");
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object) Refuse("model", "is missing");
            var type = model.TryGetProperty("type", out var t) ? t.GetString() : "BPE";
            if (type != "BPE") Refuse("model.type", $"'{type}' is not supported (BPE)");
            if (!model.TryGetProperty("vocab", out var vocabElement) || vocabElement.ValueKind != JsonValueKind.Object) Refuse("model.vocab", "is missing");
            var vocabulary = vocabElement.EnumerateObject().Select(p => new KeyValuePair<string, int>(p.Name, p.Value.GetInt32())).ToList();
            var merges = model.TryGetProperty("merges", out var m) ? m.EnumerateArray().Select(Merge).ToList() : [];

            // Added tokens (special or not) match whole, before any splitting.
            var added = root.TryGetProperty("added_tokens", out var a) && a.ValueKind == JsonValueKind.Array
                ? a.EnumerateArray().ToDictionary(x => x.GetProperty("content").GetString()!, x => x.GetProperty("id").GetInt32())
                : new Dictionary<string, int>();
            bool byteLevel = false;
            string? pattern = null;
            if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object)
                foreach (var step in pre.GetProperty("type").GetString() == "Sequence" ? pre.GetProperty("pretokenizers").EnumerateArray().ToList() : [pre])
                {
                    switch (step.GetProperty("type").GetString())
                    {
                        case "ByteLevel":
                            byteLevel = true;
                            if (step.TryGetProperty("add_prefix_space", out var prefix) && prefix.GetBoolean()) Refuse("pre_tokenizer.add_prefix_space", "true is not supported");
                            if (!step.TryGetProperty("use_regex", out var useRegex) || useRegex.GetBoolean()) pattern ??= Gpt2Pattern;
                            break;
                        case "Split" when step.TryGetProperty("pattern", out var p) && p.TryGetProperty("Regex", out var regex) && IsIsolated(step):
                            pattern = regex.GetString();
                            break;
                        case var other:
                            Refuse("pre_tokenizer", $"step '{other}' is not supported (ByteLevel, Split with a Regex pattern and behavior Isolated)");
                            break;
                    }
                }
            if (root.TryGetProperty("decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object && decoder.GetProperty("type").GetString() == "ByteLevel") byteLevel = true;
            bool nfc = root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind == JsonValueKind.Object;
            if (nfc && normalizer.GetProperty("type").GetString() != "NFC") Refuse("normalizer", $"'{normalizer.GetProperty("type").GetString()}' is not supported (NFC)");

            Regex? split = null;
            if (pattern is not null)
            {
                try { split = new Regex(pattern, RegexOptions.Compiled); }
                catch (ArgumentException e) { Refuse("pre_tokenizer's Split pattern", $"is not a regular expression .NET reads ({e.Message})"); }
            }
            BpeTokenizer tokenizer;
            try
            {
                tokenizer = BpeTokenizer.Create(new BpeOptions(vocabulary)
                {
                    Merges = merges, ByteLevel = byteLevel, SpecialTokens = added,
                    PreTokenizer = split is null ? null : new RegexPreTokenizer(split, added),
                });
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}: not a BPE vocabulary Microsoft.ML.Tokenizers accepts ({e.Message}).", e);
            }

            var tokens = TokenizerVocabulary.ById(vocabulary.Select(v => (v.Key, v.Value)).Concat(added.Select(a => (a.Key, a.Value))));
            int endOfText = SpecialTokenId(directory, "eos_token", added, vocabulary) ?? ConfigTokenId(directory, "eos_token_id")
                ?? throw new InvalidDataException($"{Path.Combine(directory, ConfigFile)}: no eos_token (nor eos_token_id in config.json): generation needs to know where an answer ends.");
            int pad = SpecialTokenId(directory, "pad_token", added, vocabulary) ?? ConfigTokenId(directory, "pad_token_id") ?? endOfText;
            return new HuggingFaceBpeTokenizer(tokenizer, directory, nfc, tokens, endOfText, pad);
        }
    }

    public int[] Encode(string text) => _tokenizer.EncodeToIds(_nfc ? Nfc(text) : text, true, true).ToArray();

    /// <summary>Whether this runtime composes characters (it does not in invariant-globalization mode, where it has no ICU).</summary>
    private static readonly bool RuntimeComposes = "e\u0301".Normalize(NormalizationForm.FormC) == "\u00e9";

    /// <summary>NFC. Without ICU, text with nothing NFC would change — no combining marks, conjoining Hangul jamo or the
    /// ohm, kelvin and angstrom signs — is already NFC; anything else is refused rather than encoded differently from
    /// what the model was trained on.</summary>
    private static string Nfc(string text)
    {
        if (RuntimeComposes) return text.Normalize(NormalizationForm.FormC);
        foreach (char c in text)
        {
            bool changes = char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.SpacingCombiningMark
                or System.Globalization.UnicodeCategory.EnclosingMark || c is >= '\u1100' and <= '\u11FF' or '\u2126' or '\u212A' or '\u212B';
            if (changes)
                throw new NotSupportedException($"U+{(int)c:X4} would change under the tokenizer's NFC normalization, which this runtime cannot apply " +
                    "(invariant globalization, no ICU): give the text precomposed.");
        }
        return text;
    }

    public string Decode(IEnumerable<int> ids) => _tokenizer.Decode(ids, false) ?? "";

    /// <summary>Copies the tokenizer's files as they are, so the folder loads the same here and in transformers.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var file in new[] { TokenizerFile, ConfigFile, "special_tokens_map.json" })
        {
            var (from, to) = (Path.Combine(_directory, file), Path.Combine(directory, file));
            if (!File.Exists(from) || Path.GetFullPath(from) == Path.GetFullPath(to)) continue;
            File.Copy(from, to + ".tmp", overwrite: true);
            File.Move(to + ".tmp", to, overwrite: true);
        }
    }

    /// <summary>A merge as "a b" (older files) or ["a", "b"] (newer ones).</summary>
    private static string Merge(JsonElement merge) =>
        merge.ValueKind == JsonValueKind.Array ? $"{merge[0].GetString()} {merge[1].GetString()}" : merge.GetString()!;

    private static bool IsIsolated(JsonElement split) =>
        (!split.TryGetProperty("behavior", out var behavior) || behavior.GetString() == "Isolated")
        && (!split.TryGetProperty("invert", out var invert) || !invert.GetBoolean());

    /// <summary>tokenizer_config.json's token for <paramref name="key"/> (a string or {"content": …}) as an id.</summary>
    private static int? SpecialTokenId(string directory, string key, Dictionary<string, int> added, List<KeyValuePair<string, int>> vocabulary)
    {
        var path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path)) return null;
        using var config = JsonDocument.Parse(File.ReadAllText(path));
        if (!config.RootElement.TryGetProperty(key, out var token) || token.ValueKind == JsonValueKind.Null) return null;
        var content = token.ValueKind == JsonValueKind.Object ? token.GetProperty("content").GetString()! : token.GetString()!;
        if (added.TryGetValue(content, out var id)) return id;
        foreach (var (text, vocabularyId) in vocabulary) if (text == content) return vocabularyId;
        throw new InvalidDataException($"{path}: {key} '{content}' is not a token of {TokenizerFile}.");
    }

    private static int? ConfigTokenId(string directory, string key)
    {
        var path = Path.Combine(directory, "config.json");
        if (!File.Exists(path)) return null;
        using var config = JsonDocument.Parse(File.ReadAllText(path));
        if (!config.RootElement.TryGetProperty(key, out var id)) return null;
        return id.ValueKind switch
        {
            JsonValueKind.Number => id.GetInt32(),
            JsonValueKind.Array when id.GetArrayLength() > 0 => id[0].GetInt32(),
            _ => null,
        };
    }
}
