using System.Text.Json;

namespace MentorKd.Modeling.Tokenization;

/// <summary>Finds and loads whichever tokenizer a model folder carries.</summary>
public static class TokenizerFiles
{
    public static ITokenizer Load(string directory)
    {
        // A T5 folder's tokenizer.json is a Unigram model beside its spiece.model: the SentencePiece file is what runs here.
        var huggingFace = HuggingFaceBpeTokenizer.ModelTypeIn(directory);
        if (huggingFace == "BPE") return HuggingFaceBpeTokenizer.Load(directory);
        if (SentencePieceModelTokenizer.FileIn(directory) is not null) return SentencePieceModelTokenizer.Load(directory);
        if (huggingFace is not null) return HuggingFaceBpeTokenizer.Load(directory); // refuses the model type, naming it
        if (Gpt2BpeTokenizer.ExistsIn(directory)) return Gpt2BpeTokenizer.Load(directory);

        var path = Path.Combine(directory, VocabularyTokenizer.FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"No tokenizer in {directory}: expected {HuggingFaceBpeTokenizer.TokenizerFile}, " +
                $"{string.Join(" or ", SentencePieceModelTokenizer.ModelFiles)}, {Gpt2BpeTokenizer.VocabFile} + {Gpt2BpeTokenizer.MergesFile} or {VocabularyTokenizer.FileName}.", path);

        VocabularyTokenizer.VocabularyFile? file;
        try
        {
            file = JsonSerializer.Deserialize<VocabularyTokenizer.VocabularyFile>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message}).", e);
        }
        if (file?.Tokens is null) throw new InvalidDataException($"{path}: missing 'Tokens'.");
        return file.Kind switch
        {
            "char" => new CharTokenizer(file.Tokens),
            "word" => new WordTokenizer(file.Tokens),
            _ => throw new InvalidDataException($"{path}: unknown tokenizer kind '{file.Kind}' (char or word)."),
        };
    }
}
