namespace MentorKd.Modeling.Tokenization;

/// <summary>Text ↔ token ids for one model. Special tokens are explicit ids, never produced by <see cref="Encode"/>.</summary>
public interface ITokenizer
{
    /// <summary>"char", "word", "gpt2-bpe", "hf-bpe" or "sentencepiece".</summary>
    string Kind { get; }

    int VocabSize { get; }

    /// <summary>Marks the end of a document or of a generated answer; generation stops on it.</summary>
    int EndOfTextId { get; }

    /// <summary>Fills batch positions that carry no token. May equal <see cref="EndOfTextId"/> (GPT-2 has no pad).</summary>
    int PadId { get; }

    /// <summary>Each id's token string (null where an id has none). Soft labels are distributions over ids, so two
    /// models can share them only when these lists agree (<see cref="TokenizerVocabulary"/>), whatever the files are called.</summary>
    IReadOnlyList<string?> Vocabulary { get; }

    int[] Encode(string text);

    /// <summary>Decodes ids, leaving out special tokens.</summary>
    string Decode(IEnumerable<int> ids);

    /// <summary>Writes the tokenizer's files into a model folder.</summary>
    void Save(string directory);
}
