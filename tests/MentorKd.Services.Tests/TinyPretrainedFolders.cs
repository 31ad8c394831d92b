using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;

namespace MentorKd.Services.Tests;

/// <summary>
/// "Pretrained" model folders as Hugging Face lays them out (config.json, model.safetensors, tokenizer.json,
/// tokenizer_config.json), with random weights: what a team brings, at a size a test can run. The tokenizer is
/// byte-level BPE whose merges are learned here from a corpus (most frequent adjacent pair first), so text of the task
/// takes few tokens.
/// </summary>
internal static class TinyPretrainedFolders
{
    public const string EndOfText = "<|endoftext|>";

    /// <summary>GPT-2's split, as its ByteLevel pre-tokenizer applies it.</summary>
    private static readonly Regex Words = new(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.Compiled);

    /// <summary>Writes tokenizer.json (256 byte symbols, then <paramref name="merges"/> learned merges, then end-of-text,
    /// plus <paramref name="extraTokens"/> added tokens) and tokenizer_config.json; returns the vocabulary size.</summary>
    public static int WriteTokenizer(string folder, IEnumerable<string> corpus, int merges, params string[] extraTokens)
    {
        var symbols = ByteSymbols();
        var words = corpus.SelectMany(text => Words.Matches(text).Select(m => m.Value))
            .GroupBy(w => w).Select(g => (Symbols: System.Text.Encoding.UTF8.GetBytes(g.Key).Select(b => symbols[b]).ToList(), Count: g.Count())).ToList();
        var learned = new List<(string Left, string Right)>();
        for (int i = 0; i < merges; i++)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (s, count) in words)
                for (int j = 0; j + 1 < s.Count; j++) pairs[(s[j], s[j + 1])] = pairs.GetValueOrDefault((s[j], s[j + 1])) + count;
            if (pairs.Count == 0) break;
            var best = pairs.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1 + " " + p.Key.Item2, StringComparer.Ordinal).First().Key;
            learned.Add(best);
            foreach (var (s, _) in words)
                for (int j = 0; j + 1 < s.Count; j++)
                    if (s[j] == best.Item1 && s[j + 1] == best.Item2) { s[j] += s[j + 1]; s.RemoveAt(j + 1); }
        }

        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[symbols[b]] = b;
        int next = 256;
        foreach (var (left, right) in learned) vocab[left + right] = next++;
        var added = new JsonArray();
        foreach (var token in extraTokens.Prepend(EndOfText)) added.Add(new JsonObject { ["id"] = next++, ["content"] = token, ["special"] = true });
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray(learned.Select(m => (JsonNode)new JsonArray(m.Left, m.Right)).ToArray()),
            },
        };
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), tokenizer.ToJsonString());
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), JsonSerializer.Serialize(new { eos_token = EndOfText }));
        return next;
    }

    /// <summary>A Llama-family folder with random (seeded) weights and the tokenizer files copied from <paramref name="tokenizerFolder"/>.</summary>
    public static string WriteLlama(string folder, string tokenizerFolder, int vocabSize, int hidden, int layers = 2, int contextLength = 256, long seed = 1,
        string modelType = "llama")
    {
        var eos = Modeling.Tokenization.TokenizerFiles.Load(tokenizerFolder).EndOfTextId;
        var config = LlamaConfig.Small(vocabSize, layers, heads: 2, keyValueHeads: 1, hidden, intermediate: hidden * 2, contextLength, eosTokenId: eos) with { ModelType = modelType };
        using (var model = new LlamaLanguageModel(config, new TorchSharp.torch.Generator((ulong)seed)))
            LlamaCheckpoint.Save(model, folder);
        CopyTokenizer(tokenizerFolder, folder);
        return folder;
    }

    /// <summary>A T5 v1.1-style folder (gated GELU, own head) with random (seeded) weights and the tokenizer files copied
    /// from <paramref name="tokenizerFolder"/>; its decoder starts from the pad token, as T5's does.</summary>
    public static string WriteT5(string folder, string tokenizerFolder, int vocabSize, int modelSize, int layers = 2, long seed = 1)
    {
        var tokenizer = Modeling.Tokenization.TokenizerFiles.Load(tokenizerFolder);
        var config = T5Config.Small(vocabSize, layers, heads: 2, modelSize, feedForward: modelSize * 2) with
        {
            DecoderStartTokenId = tokenizer.PadId, PadTokenId = tokenizer.PadId, EosTokenId = tokenizer.EndOfTextId,
        };
        using (var model = new T5LanguageModel(config, new TorchSharp.torch.Generator((ulong)seed)))
            T5Checkpoint.Save(model, folder);
        CopyTokenizer(tokenizerFolder, folder);
        return folder;
    }

    private static void CopyTokenizer(string from, string to)
    {
        foreach (var file in Directory.GetFiles(from).Where(f => ModelCheckpoints.IsTokenizerFile(Path.GetFileName(f)) && Path.GetFileName(f) != "config.json"))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
    }

    /// <summary>GPT-2's byte ↔ character table: printable bytes stand for themselves, the others take U+0100 on, in byte order.</summary>
    private static string[] ByteSymbols()
    {
        var symbols = new string[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
            symbols[b] = ((char)(b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF ? b : next++)).ToString();
        return symbols;
    }
}
