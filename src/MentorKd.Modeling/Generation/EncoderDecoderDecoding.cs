using MentorKd.Modeling.Model;
using MentorKd.Modeling.Runtime;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Generation;

/// <summary>
/// An encoder-decoder continuing its prompts: the prompts are encoded once (ended by end-of-sequence, right-padded,
/// padding masked), and the decoder writes from its start token. With the cache each step feeds only the new column
/// (and the encoder's keys and values are projected once); without it the decoder re-reads everything it wrote.
/// </summary>
internal sealed class EncoderDecoderDecoding : DecodingSession
{
    private readonly T5LanguageModel _model;
    private readonly EncoderDecoderCache? _cache;
    private readonly Tensor _encoderOutput;
    private readonly Tensor? _encoderMask;
    private Tensor _written;
    private Tensor? _column;

    public EncoderDecoderDecoding(T5LanguageModel model, IReadOnlyList<int[]> rows, int padId, bool useCache)
    {
        _model = model;
        rows = rows.Select(model.EncoderInput).ToList();
        var (ids, mask) = Padded(rows, padId, left: false, model.Device);
        bool padded = rows.Any(r => r.Length != rows[0].Length);
        using (ids)
        {
            _encoderOutput = model.Encode(ids, padded ? mask : null).DetachFromDisposeScope();
            if (padded) _encoderMask = mask;
            else mask.Dispose();
        }
        using (var start = HeldScalars.Hold((long)model.Config.DecoderStartTokenId))
            _written = full([rows.Count, 1], start, ScalarType.Int64, model.Device).DetachFromDisposeScope();
        _cache = useCache ? new EncoderDecoderCache(model.DecoderLayers) : null;
    }

    public override int Budget(int requested) => requested;

    public override Tensor NextLogits()
    {
        var input = _cache is not null && _column is not null ? _column : _written;
        return _model.Decode(input, _encoderOutput, _encoderMask, _cache, lastPositionOnly: true)[.., -1];
    }

    public override void Append(Tensor column)
    {
        Replace(ref _written, cat([_written, column], 1));
        _column?.Dispose();
        _column = column.alias().DetachFromDisposeScope();
    }

    public override void Dispose()
    {
        _encoderOutput.Dispose();
        _encoderMask?.Dispose();
        _written.Dispose();
        _column?.Dispose();
        _cache?.Dispose();
    }
}
