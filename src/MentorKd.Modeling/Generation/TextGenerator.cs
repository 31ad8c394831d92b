using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;

namespace MentorKd.Modeling.Generation;

/// <summary>Text in, text out: tokenizes prompts, generates, decodes.</summary>
public sealed class TextGenerator(LanguageModel model, ITokenizer tokenizer)
{
    private readonly TokenGenerator _tokens = new(model, tokenizer.EndOfTextId, tokenizer.PadId);

    /// <summary>Prompt tokens; an empty prompt starts from end-of-text, as a document boundary.</summary>
    public int[] EncodePrompt(string prompt) => prompt.Length == 0 ? [tokenizer.EndOfTextId] : tokenizer.Encode(prompt);

    public IReadOnlyList<string>[] Generate(IReadOnlyList<string> prompts, GenerationOptions options) =>
        _tokens.Generate(prompts.Select(EncodePrompt).ToList(), options)
            .Select(samples => (IReadOnlyList<string>)samples.Select(s => tokenizer.Decode(s)).ToList())
            .ToArray();

    public string Complete(string prompt, GenerationOptions options) => Generate([prompt], options)[0][0];
}
