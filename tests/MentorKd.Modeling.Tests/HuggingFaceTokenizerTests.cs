using System.Text.Json;
using System.Text.Json.Nodes;
using MentorKd.Modeling.Tokenization;

namespace MentorKd.Modeling.Tests;

/// <summary>tokenizer.json files written here in Hugging Face's layout (byte-level BPE as GPT-2 / SmolLM2 write it, and
/// with a Split pre-tokenizer as Qwen2 / Llama 3 do), encoded to ids worked out by hand from the merges.</summary>
public class HuggingFaceTokenizerTests
{
    /// <summary>GPT-2's byte ↔ character table, written from its definition: printable bytes stand for themselves, the
    /// others take the characters from U+0100 on, in byte order.</summary>
    private static readonly string[] ByteSymbols = BuildByteSymbols();

    private static string[] BuildByteSymbols()
    {
        var symbols = new string[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            symbols[b] = ((char)(printable ? b : next++)).ToString();
        }
        return symbols;
    }

    private static int Byte(char c) => c; // base ids are byte values

    /// <summary>256 byte symbols (id = byte), then the merged tokens in merge order, then the added tokens.</summary>
    private static string WriteFolder(JsonNode? preTokenizer, bool arrayMerges = false, JsonNode? normalizer = null, string modelType = "BPE",
        bool withConfig = true)
    {
        string[][] merges = [["t", "h"], ["th", "e"], ["Ġ", "c"], ["Ġc", "a"], ["Ġca", "t"], ["1", "2"]];
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteSymbols[b]] = b;
        for (int i = 0; i < merges.Length; i++) vocab[merges[i][0] + merges[i][1]] = 256 + i;
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(
                new JsonObject { ["id"] = 262, ["content"] = "<|endoftext|>", ["special"] = true },
                new JsonObject { ["id"] = 263, ["content"] = "<pad>", ["special"] = true }),
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = modelType, ["vocab"] = vocab,
                ["merges"] = new JsonArray(merges.Select(m => arrayMerges ? (JsonNode)new JsonArray(m[0], m[1]) : $"{m[0]} {m[1]}").ToArray()),
            },
        };
        var folder = TinyModels.TempDirectory();
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), tokenizer.ToJsonString());
        if (withConfig)
            File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
                JsonSerializer.Serialize(new { eos_token = "<|endoftext|>", pad_token = new { content = "<pad>" } }));
        return folder;
    }

    private static JsonNode ByteLevel(bool useRegex = true) => new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = useRegex };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Byte_level_bpe_encodes_as_its_merges_say_keeps_added_tokens_whole_and_decodes_back(bool arrayMerges)
    {
        var tokenizer = TokenizerFiles.Load(WriteFolder(ByteLevel(), arrayMerges));
        Assert.Equal("hf-bpe", tokenizer.Kind);
        Assert.Equal((264, 262, 263), (tokenizer.VocabSize, tokenizer.EndOfTextId, tokenizer.PadId));

        // "the" → th, the; " cat" → Ġc, Ġca, Ġcat; "tea" has no merge; "12" merges under GPT-2's split (digits together).
        Assert.Equal(new[] { 257, 260 }, tokenizer.Encode("the cat"));
        Assert.Equal(new[] { Byte('t'), Byte('e'), Byte('a') }, tokenizer.Encode("tea"));
        Assert.Equal(new[] { 261 }, tokenizer.Encode("12"));
        Assert.Equal(new[] { 257, 260, 262 }, tokenizer.Encode("the cat<|endoftext|>"));
        // Non-ASCII text goes through its UTF-8 bytes: é is C3 A9.
        Assert.Equal(new[] { 0xC3, 0xA9 }, tokenizer.Encode("é"));
        foreach (var text in new[] { "the cat sat, 12 times!", "naïve café\nnew line" })
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        Assert.Equal("the cat", tokenizer.Decode([257, 260, 262, 263]));
    }

    [Fact]
    public void A_split_pre_tokenizer_splits_by_its_own_pattern_before_the_byte_level_step()
    {
        // Qwen2 / Llama 3 style: one digit per piece, so the "1 2" merge never applies.
        var split = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = @"\p{N}| ?\p{L}+| ?[^\s\p{L}\p{N}]+|\s+" }, ["behavior"] = "Isolated", ["invert"] = false },
                ByteLevel(useRegex: false)),
        };
        var tokenizer = TokenizerFiles.Load(WriteFolder(split, normalizer: new JsonObject { ["type"] = "NFC" }));
        Assert.Equal(new[] { Byte('1'), Byte('2') }, tokenizer.Encode("12"));
        Assert.Equal(new[] { 257, 260 }, tokenizer.Encode("the cat"));
        // NFC: "e" + combining acute is é (C3 A9) before the bytes are taken; a runtime without ICU (this platform runs in
        // invariant globalization) cannot compose, and refuses such text rather than encode it differently.
        Assert.Equal(new[] { 0xC3, 0xA9 }, tokenizer.Encode("\u00e9"));
        if ("e\u0301".Normalize(System.Text.NormalizationForm.FormC) == "\u00e9") Assert.Equal(new[] { 0xC3, 0xA9 }, tokenizer.Encode("e\u0301"));
        else Assert.Contains("NFC", Assert.Throws<NotSupportedException>(() => tokenizer.Encode("e\u0301")).Message);
    }

    [Fact]
    public void The_files_are_saved_as_they_are_and_load_the_same()
    {
        var folder = WriteFolder(ByteLevel());
        var tokenizer = TokenizerFiles.Load(folder);
        var copy = TinyModels.TempDirectory();
        tokenizer.Save(copy);
        Assert.Equal(File.ReadAllText(Path.Combine(folder, "tokenizer.json")), File.ReadAllText(Path.Combine(copy, "tokenizer.json")));
        Assert.Equal(tokenizer.Encode("the cat 12"), TokenizerFiles.Load(copy).Encode("the cat 12"));
    }

    [Fact]
    public void Tokenizers_are_compared_by_their_vocabulary_not_their_files()
    {
        var tokenizer = TokenizerFiles.Load(WriteFolder(ByteLevel()));
        Assert.Equal(264, tokenizer.VocabSize);
        Assert.Equal((ByteSymbols['t'], "th", "the", "<|endoftext|>"), (tokenizer.Vocabulary['t'], tokenizer.Vocabulary[256], tokenizer.Vocabulary[257], tokenizer.Vocabulary[262]));

        // The same vocabulary in another layout (array merges) and folder: interchangeable ids.
        var same = TokenizerFiles.Load(WriteFolder(ByteLevel(), arrayMerges: true));
        Assert.Null(TokenizerVocabulary.FirstDifference(tokenizer, same));
        Assert.Equal(TokenizerVocabulary.Fingerprint(tokenizer), TokenizerVocabulary.Fingerprint(same));

        // A word vocabulary of the same size is another tokenizer, and the first differing id is named.
        var words = WordTokenizer.FromCorpus(Enumerable.Range(0, 400).Select(i => $"w{i}"), minCount: 1);
        Assert.StartsWith($"{tokenizer.VocabSize} tokens against", TokenizerVocabulary.FirstDifference(tokenizer, words));
        var chars = CharTokenizer.FromCorpus(["abc"]);
        var other = CharTokenizer.FromCorpus(["abd"]);
        Assert.Equal("id 5 is 'c' against 'd'", TokenizerVocabulary.FirstDifference(chars, other));
        Assert.NotEqual(TokenizerVocabulary.Fingerprint(chars), TokenizerVocabulary.Fingerprint(other));
    }

    [Theory]
    [InlineData("model-type", "model.type 'WordPiece' is not supported")]
    [InlineData("normalizer", "normalizer 'Lowercase' is not supported")]
    [InlineData("pre-tokenizer", "step 'Whitespace' is not supported")]
    [InlineData("pattern", "is not a regular expression .NET reads")]
    [InlineData("no-eos", "no eos_token")]
    public void What_is_not_supported_is_refused_at_load_naming_the_file_and_the_setting(string fault, string message)
    {
        var folder = fault switch
        {
            "model-type" => WriteFolder(ByteLevel(), modelType: "WordPiece"),
            "normalizer" => WriteFolder(ByteLevel(), normalizer: new JsonObject { ["type"] = "Lowercase" }),
            "pre-tokenizer" => WriteFolder(new JsonObject { ["type"] = "Whitespace" }),
            "pattern" => WriteFolder(new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "(unclosed" }, ["behavior"] = "Isolated" }),
            _ => WriteFolder(ByteLevel(), withConfig: false),
        };
        var error = Assert.Throws<InvalidDataException>(() => TokenizerFiles.Load(folder));
        Assert.Contains(message, error.Message);
        Assert.Contains(folder, error.Message);
    }
}
