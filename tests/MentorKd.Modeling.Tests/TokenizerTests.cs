using System.Text.Json;
using MentorKd.Modeling.Tokenization;

namespace MentorKd.Modeling.Tests;

public class TokenizerTests
{
    [Fact]
    public void Char_tokenizer_round_trips_and_reserves_special_ids()
    {
        var tokenizer = CharTokenizer.FromCorpus(["hello world", "héllo"]);
        Assert.Equal(0, tokenizer.EndOfTextId);
        Assert.Equal(1, tokenizer.PadId);
        var ids = tokenizer.Encode("hello héllo");
        Assert.Equal(11, ids.Length);
        Assert.DoesNotContain(0, ids);
        Assert.Equal("hello héllo", tokenizer.Decode(ids.Append(0)));
        Assert.Equal(2, tokenizer.Encode("z")[0]); // unknown
    }

    [Fact]
    public void Word_tokenizer_splits_numbers_into_digits_and_spells_unknown_words()
    {
        var tokenizer = WordTokenizer.FromCorpus(["Tom has 12 apples. Ann has 305 pears."]);
        var pieces = WordTokenizer.Split("Tom has 12 apples.").ToList();
        Assert.Equal(["Tom", " has", " 1", "2", " apples", "."], pieces);
        var known = tokenizer.Encode("Tom has 12 pears.");
        Assert.Equal(6, known.Length);
        var unknown = tokenizer.Encode(" Tomas");
        Assert.Equal(6, unknown.Length); // " ", "T", "o", "m", "a", "s"
        Assert.Equal("Tom has 12 pears. Tomas", tokenizer.Decode(known.Concat(unknown)));
    }

    [Fact]
    public void Tokenizers_save_beside_a_model_and_load_back()
    {
        var folder = TinyModels.TempDirectory();
        var word = WordTokenizer.FromCorpus(["one two three 45"]);
        word.Save(folder);
        var loaded = Assert.IsType<WordTokenizer>(TokenizerFiles.Load(folder));
        Assert.Equal(word.Tokens, loaded.Tokens);
        Assert.Equal(word.Encode("two 54 one"), loaded.Encode("two 54 one"));
    }

    [Fact]
    public void Gpt2_byte_level_bpe_loads_from_vocab_and_merges()
    {
        // A miniature GPT-2 vocabulary: the printable bytes in GPT-2's byte-to-unicode spelling, a few merges.
        var folder = TinyModels.TempDirectory();
        var vocab = new Dictionary<string, int>();
        foreach (var c in "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") vocab[c.ToString()] = vocab.Count;
        vocab["Ġ"] = vocab.Count; // the space byte
        string[] merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"];
        foreach (var merge in merges) vocab[merge.Replace(" ", "")] = vocab.Count;
        vocab["<|endoftext|>"] = vocab.Count;
        File.WriteAllText(Path.Combine(folder, "vocab.json"), JsonSerializer.Serialize(vocab));
        File.WriteAllLines(Path.Combine(folder, "merges.txt"), ["#version: 0.2", .. merges]);

        var tokenizer = Assert.IsType<Gpt2BpeTokenizer>(TokenizerFiles.Load(folder));
        var ids = tokenizer.Encode("hello world");
        Assert.Equal([vocab["hello"], vocab["Ġworld"]], ids);
        Assert.Equal("hello world", tokenizer.Decode(ids.Append(tokenizer.EndOfTextId)));
        Assert.Equal(vocab["<|endoftext|>"], tokenizer.EndOfTextId);
        Assert.Equal(tokenizer.EndOfTextId, tokenizer.PadId);
        Assert.Equal(vocab.Count, tokenizer.VocabSize);
    }
}
