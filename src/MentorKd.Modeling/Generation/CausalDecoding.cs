using MentorKd.Modeling.Model;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Generation;

/// <summary>
/// A decoder-only model continuing its prompts: left-padded, so every row's next token sits in the last column. With
/// the KV cache each step feeds only the new column; without it the whole sequence again (the reference the cache must match).
/// </summary>
internal sealed class CausalDecoding : DecodingSession
{
    private readonly CausalLanguageModel _model;
    private readonly KeyValueCache? _cache;
    private readonly bool _padded;
    private readonly int _longest;
    private Tensor _tokens, _mask;
    private Tensor? _column;

    public CausalDecoding(CausalLanguageModel model, IReadOnlyList<int[]> rows, int padId, bool useCache)
    {
        _longest = rows.Max(r => r.Length);
        if (_longest >= model.ContextLength)
            throw new ArgumentException($"A prompt of {_longest} tokens leaves no room in the model's {model.ContextLength}-token context.", nameof(rows));
        (_model, _padded) = (model, rows.Any(r => r.Length != _longest));
        (_tokens, _mask) = Padded(rows, padId, left: true, model.Device);
        _cache = useCache ? new KeyValueCache(model.LayerCount, model.ContextLength) : null;
    }

    public override int Budget(int requested) => Math.Min(requested, _model.ContextLength - _longest);

    public override Tensor NextLogits()
    {
        var input = _cache is not null && _column is not null ? _column : _tokens;
        return _model.forward(input, _padded ? _mask : null, _cache, lastPositionOnly: true)[.., -1];
    }

    public override void Append(Tensor column)
    {
        Replace(ref _tokens, cat([_tokens, column], 1));
        Replace(ref _mask, cat([_mask, ones_like(column)], 1));
        _column?.Dispose();
        _column = column.alias().DetachFromDisposeScope();
    }

    public override void Dispose()
    {
        _tokens.Dispose();
        _mask.Dispose();
        _column?.Dispose();
        _cache?.Dispose();
    }
}
