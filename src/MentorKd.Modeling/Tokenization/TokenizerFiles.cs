using System.Text.Json;

namespace MentorKd.Modeling.Tokenization;

/// <summary>Finds and loads whichever tokenizer a model folder carries.</summary>
public static class TokenizerFiles
{
    public static ITokenizer Load(string directory)
    {
        if (HuggingFaceBpeTokenizer.ExistsIn(directory)) return HuggingFaceBpeTokenizer.Load(directory);
        if (Gpt2BpeTokenizer.ExistsIn(directory)) return Gpt2BpeTokenizer.Load(directory);

        var path = Path.Combine(directory, VocabularyTokenizer.FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"No tokenizer in {directory}: expected {HuggingFaceBpeTokenizer.TokenizerFile}, {Gpt2BpeTokenizer.VocabFile} + {Gpt2BpeTokenizer.MergesFile} or {VocabularyTokenizer.FileName}.", path);

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
