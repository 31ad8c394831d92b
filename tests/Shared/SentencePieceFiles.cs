using System.Text.RegularExpressions;
using Google.Protobuf;

namespace MentorKd.Tests.Shared;

/// <summary>
/// SentencePiece model files (<c>spiece.model</c>) written here as the protobuf T5's is (sentencepiece_model.proto's
/// ModelProto): a Unigram model whose first pieces are T5's <c>&lt;pad&gt;</c> 0, <c>&lt;/s&gt;</c> 1 and <c>&lt;unk&gt;</c> 2, then
/// "▁" and every character of a corpus, then its words as "▁word" pieces scored by log frequency (so a known word is one
/// piece and anything else is spelled).
/// </summary>
internal static class SentencePieceFiles
{
    public const int Pad = 0, EndOfSentence = 1, Unknown = 2;
    private const int Normal = 1, UnknownType = 2, Control = 3, UnigramModel = 1;

    /// <returns>The number of pieces (the vocabulary size).</returns>
    public static int WriteUnigram(string path, IEnumerable<string> corpus)
    {
        var texts = corpus.ToList();
        var characters = texts.SelectMany(t => t.Where(c => !char.IsWhiteSpace(c))).Distinct().Order().Select(c => c.ToString());
        var words = texts.SelectMany(t => Regex.Split(t, @"\s+")).Where(w => w.Length > 1).GroupBy(w => w).ToList();
        double total = words.Sum(g => g.Count());
        var pieces = new List<(string Piece, float Score, int Type)> { ("<pad>", 0, Control), ("</s>", 0, Control), ("<unk>", 0, UnknownType), ("▁", -8, Normal) };
        pieces.AddRange(characters.Select(c => (c, -10f, Normal)));
        pieces.AddRange(words.OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => ("▁" + g.Key, (float)Math.Log(g.Count() / total), Normal)));

        using var file = File.Create(path);
        var output = new CodedOutputStream(file);
        foreach (var (piece, score, type) in pieces)
            Field(output, 1, Message(m =>
            {
                m.WriteTag(1, WireFormat.WireType.LengthDelimited);
                m.WriteString(piece);
                m.WriteTag(2, WireFormat.WireType.Fixed32);
                m.WriteFloat(score);
                m.WriteTag(3, WireFormat.WireType.Varint);
                m.WriteEnum(type);
            }));
        Field(output, 2, Message(m =>
        {
            foreach (var (number, value) in new[] { (3, UnigramModel), (4, pieces.Count), (40, Unknown), (41, -1), (42, EndOfSentence), (43, Pad) })
            {
                m.WriteTag(number, WireFormat.WireType.Varint);
                m.WriteInt32(value);
            }
        }));
        Field(output, 3, Message(m =>
        {
            m.WriteTag(1, WireFormat.WireType.LengthDelimited);
            m.WriteString("identity");
            foreach (var number in new[] { 3, 4, 5 }) // add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces
            {
                m.WriteTag(number, WireFormat.WireType.Varint);
                m.WriteBool(true);
            }
        }));
        output.Flush();
        return pieces.Count;
    }

    private static ByteString Message(Action<CodedOutputStream> write)
    {
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        write(output);
        output.Flush();
        return ByteString.CopyFrom(buffer.ToArray());
    }

    private static void Field(CodedOutputStream output, int number, ByteString message)
    {
        output.WriteTag(number, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(message);
    }
}
