namespace MentorKd.Modeling.Tokenization;

/// <summary>One token per character; the vocabulary is the characters of a training corpus.</summary>
public sealed class CharTokenizer : VocabularyTokenizer
{
    public CharTokenizer(IReadOnlyList<string> tokens) : base(tokens) { }

    public override string Kind => "char";

    public static CharTokenizer FromCorpus(IEnumerable<string> texts)
    {
        var chars = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var text in texts)
            foreach (var rune in text.EnumerateRunes())
                chars.Add(rune.ToString());
        return new CharTokenizer(WithSpecials(chars));
    }

    public override int[] Encode(string text)
    {
        var ids = new List<int>(text.Length);
        foreach (var rune in text.EnumerateRunes())
            ids.Add(Ids.TryGetValue(rune.ToString(), out var id) ? id : Unknown);
        return ids.ToArray();
    }
}
