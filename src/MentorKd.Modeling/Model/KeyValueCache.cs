using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Model;

/// <summary>
/// Keys and values of every layer for the tokens already processed, so that decoding one more token costs
/// one position's work instead of the whole sequence's. Owns its tensors (they outlive any step's dispose scope).
/// Each layer writes into a buffer with room to spare, doubled when full, and reads a view of the filled part: appending
/// a token copies that token only (concatenating copied the whole cache at every step, O(T²) per sequence).
/// </summary>
public sealed class KeyValueCache : IDisposable
{
    /// <summary>Positions a buffer holds at least when first allocated.</summary>
    private const long MinimumCapacity = 64;
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;
    private readonly long[] _lengths;
    private readonly long _maxLength;

    /// <param name="maxLength">The most positions the cache will hold (the model's context), if known: buffers never
    /// grow past it.</param>
    public KeyValueCache(int layerCount, long maxLength = long.MaxValue)
    {
        _maxLength = maxLength;
        _keys = new Tensor?[layerCount];
        _values = new Tensor?[layerCount];
        _lengths = new long[layerCount];
    }

    /// <summary>Positions cached (those of layer 0; every layer holds as many once a forward pass has finished).</summary>
    public long Length => LengthOf(0);

    public long LengthOf(int layer) => _lengths[layer];

    /// <summary>Appends [B, H, T, D] keys and values for <paramref name="layer"/>; returns all of them so far (views of
    /// the cache, valid until the next append).</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        long length = _lengths[layer], total = length + keys.shape[2];
        if (_keys[layer] is null || total > _keys[layer]!.shape[2])
        {
            long capacity = Math.Max(total, Math.Min(_maxLength, Math.Max(MinimumCapacity, 2 * total)));
            Grow(ref _keys[layer], keys, length, capacity);
            Grow(ref _values[layer], values, length, capacity);
        }
        using (var scope = NewDisposeScope())
        {
            _keys[layer]!.narrow(2, length, keys.shape[2]).copy_(keys);
            _values[layer]!.narrow(2, length, values.shape[2]).copy_(values);
        }
        _lengths[layer] = total;
        return (_keys[layer]!.narrow(2, 0, total), _values[layer]!.narrow(2, 0, total));
    }

    /// <summary>A buffer shaped like <paramref name="like"/> with <paramref name="capacity"/> positions, holding the
    /// <paramref name="length"/> positions already cached.</summary>
    private static void Grow(ref Tensor? buffer, Tensor like, long length, long capacity)
    {
        var grown = empty([like.shape[0], like.shape[1], capacity, like.shape[3]], like.dtype, like.device).DetachFromDisposeScope();
        if (buffer is not null)
        {
            using var scope = NewDisposeScope();
            grown.narrow(2, 0, length).copy_(buffer.narrow(2, 0, length));
        }
        buffer?.Dispose();
        buffer = grown;
    }

    public void Dispose()
    {
        foreach (var t in _keys) t?.Dispose();
        foreach (var t in _values) t?.Dispose();
        Array.Clear(_keys);
        Array.Clear(_values);
        Array.Clear(_lengths);
    }
}
