namespace MentorKd.Modeling.Tokenization;

/// <summary>Spellings of the special tokens of our from-scratch vocabularies (GPT-2's end-of-text spelling).</summary>
public static class SpecialTokens
{
    public const string EndOfText = "<|endoftext|>";
    public const string Pad = "<|pad|>";
    public const string Unknown = "<|unk|>";
}
