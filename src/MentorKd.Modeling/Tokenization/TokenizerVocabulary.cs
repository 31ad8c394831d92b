using System.Security.Cryptography;
using System.Text;

namespace MentorKd.Modeling.Tokenization;

/// <summary>
/// Tokenizers compared by what they map ids to, not by their names or files: a mentor's soft labels mean something
/// to a student only when both read id <c>i</c> as the same token.
/// </summary>
public static class TokenizerVocabulary
{
    /// <summary>The id → token list from (token, id) pairs; ids no token names stay null, and a later pair for an id
    /// (an added token over the base vocabulary) wins.</summary>
    public static string?[] ById(IEnumerable<(string Token, int Id)> pairs)
    {
        var list = pairs.ToList();
        if (list.Count == 0) throw new InvalidDataException("the vocabulary is empty.");
        if (list.Min(p => p.Id) < 0) throw new InvalidDataException($"token '{list.First(p => p.Id < 0).Token}' has a negative id.");
        var tokens = new string?[list.Max(p => p.Id) + 1];
        foreach (var (token, id) in list) tokens[id] = token;
        return tokens;
    }

    /// <summary>Null when the two agree on every id and on end-of-text; otherwise the first difference, in words.</summary>
    public static string? FirstDifference(ITokenizer a, ITokenizer b)
    {
        if (a.VocabSize != b.VocabSize) return $"{a.VocabSize} tokens against {b.VocabSize}";
        for (int id = 0; id < a.VocabSize; id++)
            if (!string.Equals(a.Vocabulary[id], b.Vocabulary[id], StringComparison.Ordinal))
                return $"id {id} is {Show(a.Vocabulary[id])} against {Show(b.Vocabulary[id])}";
        if (a.EndOfTextId != b.EndOfTextId) return $"end-of-text is id {a.EndOfTextId} against {b.EndOfTextId}";
        return null;

        static string Show(string? token) => token is null ? "unassigned" : $"'{token}'";
    }

    /// <summary>SHA-256 of the id → token list and end-of-text id: equal fingerprints, interchangeable ids.</summary>
    public static string Fingerprint(ITokenizer tokenizer)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (int id = 0; id < tokenizer.VocabSize; id++)
            hash.AppendData(Encoding.UTF8.GetBytes($"{id}\t{tokenizer.Vocabulary[id] ?? "\0"}\n"));
        hash.AppendData(Encoding.UTF8.GetBytes($"eos\t{tokenizer.EndOfTextId}\n"));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
