using Google.Protobuf;

namespace MentorKd.Modeling.Tokenization;

/// <summary>
/// What this code reads of a SentencePiece model file (sentencepiece_model.proto's ModelProto) itself: the pieces in id
/// order and the trainer spec's special ids, read with protobuf's wire format (the library that runs the model keeps
/// its parsed form internal).
/// </summary>
internal sealed record SentencePieceModelFile(IReadOnlyList<string> Pieces, int UnknownId, int BeginningId, int EndId, int PadId)
{
    private const int PiecesField = 1, TrainerSpecField = 2, PieceField = 1;
    private const int UnknownIdField = 40, BeginningIdField = 41, EndIdField = 42, PadIdField = 43, BeginningPieceField = 46;

    public static SentencePieceModelFile Read(byte[] model)
    {
        var pieces = new List<string>();
        // The proto's defaults, which a file leaves out when it keeps them.
        int unknown = 0, beginning = 1, end = 2, pad = -1;
        var input = new CodedInputStream(model);
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case PiecesField:
                    pieces.Add(ReadPiece(input.ReadBytes()));
                    break;
                case TrainerSpecField:
                    // Repeated occurrences of a message field merge: later values win.
                    var spec = new CodedInputStream(input.ReadBytes().ToByteArray());
                    for (uint field; (field = spec.ReadTag()) != 0;)
                    {
                        switch (WireFormat.GetTagFieldNumber(field))
                        {
                            case UnknownIdField: unknown = spec.ReadInt32(); break;
                            case BeginningIdField: beginning = spec.ReadInt32(); break;
                            case EndIdField: end = spec.ReadInt32(); break;
                            case PadIdField: pad = spec.ReadInt32(); break;
                            default: spec.SkipLastField(); break;
                        }
                    }
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }
        return new SentencePieceModelFile(pieces, unknown, beginning, end, pad);
    }

    /// <summary>
    /// The model as Microsoft.ML.Tokenizers 2.0 can load it. Its Unigram loader indexes the pieces by the beginning-of-sentence
    /// id, which T5's model sets to -1 (none): such a file gets a trainer spec appended that names end-of-sentence as
    /// beginning too (same piece, so no piece is renamed; encoding never adds it here).
    /// </summary>
    public byte[] Loadable(byte[] model)
    {
        if (BeginningId >= 0) return model;
        using var patch = new MemoryStream();
        var spec = new CodedOutputStream(patch);
        spec.WriteTag(BeginningIdField, WireFormat.WireType.Varint);
        spec.WriteInt32(EndId);
        spec.WriteTag(BeginningPieceField, WireFormat.WireType.LengthDelimited);
        spec.WriteString(Pieces[EndId]);
        spec.Flush();
        using var patched = new MemoryStream();
        patched.Write(model);
        var output = new CodedOutputStream(patched);
        output.WriteTag(TrainerSpecField, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(patch.ToArray()));
        output.Flush();
        return patched.ToArray();
    }

    private static string ReadPiece(ByteString message)
    {
        var input = new CodedInputStream(message.ToByteArray());
        string piece = "";
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            if (WireFormat.GetTagFieldNumber(tag) == PieceField) piece = input.ReadString();
            else input.SkipLastField();
        }
        return piece;
    }
}
