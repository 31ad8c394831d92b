using System.Text.RegularExpressions;

namespace MentorKd.Modeling.Tokenization;

/// <summary>
/// Word-level tokens for synthetic tasks, where short sequences make small models learn fast. Text is cut
/// into pieces that carry their leading space (" apple", " 7", ","), every number is split into single digits
/// so arithmetic stays learnable, and a word outside the vocabulary is spelled out in characters — so any
/// text encodes losslessly as long as its characters were seen.
/// </summary>
public sealed partial class WordTokenizer : VocabularyTokenizer
{
    public WordTokenizer(IReadOnlyList<string> tokens) : base(tokens) { }

    public override string Kind => "word";

    // A word (letters, optionally with an apostrophe part), a single digit, a single other symbol, or a run of whitespace.
    [GeneratedRegex(@" ?\p{L}+(?:'\p{L}+)?| ?\d| ?[^\s\p{L}\d]|\s", RegexOptions.CultureInvariant)]
    private static partial Regex Pieces();

    public static IEnumerable<string> Split(string text) => Pieces().Matches(text).Select(m => m.Value);

    /// <param name="minCount">Words seen fewer times are spelled in characters.</param>
    /// <param name="maxWords">Cap on whole-word entries, most frequent first.</param>
    public static WordTokenizer FromCorpus(IEnumerable<string> texts, int minCount = 1, int maxWords = 50_000)
    {
        var words = new Dictionary<string, int>(StringComparer.Ordinal);
        var chars = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var text in texts)
        {
            foreach (var rune in text.EnumerateRunes()) chars.Add(rune.ToString());
            foreach (var piece in Split(text))
                if (piece.Length > 1) words[piece] = words.GetValueOrDefault(piece) + 1;
        }
        var kept = words.Where(w => w.Value >= minCount)
            .OrderByDescending(w => w.Value).ThenBy(w => w.Key, StringComparer.Ordinal)
            .Take(maxWords).Select(w => w.Key)
            .OrderBy(w => w, StringComparer.Ordinal);
        return new WordTokenizer(WithSpecials(chars.Concat(kept.Where(w => !chars.Contains(w)))));
    }

    public override int[] Encode(string text)
    {
        var ids = new List<int>();
        foreach (var piece in Split(text))
        {
            if (Ids.TryGetValue(piece, out var id)) { ids.Add(id); continue; }
            foreach (var rune in piece.EnumerateRunes())
                ids.Add(Ids.TryGetValue(rune.ToString(), out var charId) ? charId : Unknown);
        }
        return ids.ToArray();
    }
}
