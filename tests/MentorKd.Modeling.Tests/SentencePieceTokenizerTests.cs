using MentorKd.Modeling.Tokenization;
using MentorKd.Tests.Shared;

namespace MentorKd.Modeling.Tests;

/// <summary>SentencePiece model files as T5 ships them (<c>spiece.model</c>, Unigram), written here as protobuf and run
/// through Microsoft.ML.Tokenizers, encoded to ids worked out by hand from the pieces' scores.</summary>
public class SentencePieceTokenizerTests
{
    // Pieces: <pad> 0, </s> 1, <unk> 2, ▁ 3, the characters a c d e g h o s t as 4..12, then ▁the 13 (twice in the
    // corpus), ▁cat 14, ▁dog 15, ▁sat 16 (once each, by name).
    private static string Folder()
    {
        var folder = TinyModels.TempDirectory();
        Assert.Equal(17, SentencePieceFiles.WriteUnigram(Path.Combine(folder, "spiece.model"), ["the cat sat", "the dog"]));
        return folder;
    }

    [Fact]
    public void A_t5_style_unigram_model_encodes_known_words_whole_and_spells_the_rest()
    {
        var tokenizer = TokenizerFiles.Load(Folder());
        Assert.IsType<SentencePieceModelTokenizer>(tokenizer);
        Assert.Equal(("sentencepiece", 17, 1, 0), (tokenizer.Kind, tokenizer.VocabSize, tokenizer.EndOfTextId, tokenizer.PadId));
        Assert.Equal(("▁the", "</s>", "t"), (tokenizer.Vocabulary[13], tokenizer.Vocabulary[1], tokenizer.Vocabulary[12]));

        Assert.Equal(new[] { 13, 14 }, tokenizer.Encode("the cat"));
        // "▁hat" is no piece: the space and each letter (-8 - 3 × 10) beat nothing else.
        Assert.Equal(new[] { 13, 3, 9, 4, 12 }, tokenizer.Encode("the hat"));
        Assert.Equal("the cat", tokenizer.Decode([13, 14, 1, 0]));
        Assert.Equal("the hat", tokenizer.Decode(tokenizer.Encode("the hat")));
    }

    [Fact]
    public void The_model_file_is_saved_as_it_is_and_preferred_to_a_unigram_tokenizer_json_which_alone_is_refused_by_name()
    {
        var folder = Folder();
        var tokenizer = TokenizerFiles.Load(folder);
        var copy = TinyModels.TempDirectory();
        tokenizer.Save(copy);
        Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "spiece.model")), File.ReadAllBytes(Path.Combine(copy, "spiece.model")));
        Assert.Null(TokenizerVocabulary.FirstDifference(tokenizer, TokenizerFiles.Load(copy)));

        // T5 folders also carry tokenizer.json with a Unigram model: the SentencePiece file is what runs.
        const string unigram = """{"version": "1.0", "model": {"type": "Unigram", "vocab": [["<pad>", 0.0]]}}""";
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), unigram);
        Assert.IsType<SentencePieceModelTokenizer>(TokenizerFiles.Load(folder));
        File.Delete(Path.Combine(folder, "spiece.model"));
        var error = Assert.Throws<InvalidDataException>(() => TokenizerFiles.Load(folder));
        Assert.Contains("model.type 'Unigram' is not supported", error.Message);
    }
}
