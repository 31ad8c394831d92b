using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Model;

/// <summary>
/// Keys and values of every layer for the tokens already processed, so that decoding one more token costs
/// one position's work instead of the whole sequence's. Owns its tensors (they outlive any step's dispose scope).
/// </summary>
public sealed class KeyValueCache : IDisposable
{
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;

    public KeyValueCache(int layerCount)
    {
        _keys = new Tensor?[layerCount];
        _values = new Tensor?[layerCount];
    }

    /// <summary>Number of positions cached so far (before this step's layers append theirs).</summary>
    public long Length => LengthOf(0);

    /// <summary>Positions cached for one layer; during a forward pass the layers below have already appended.</summary>
    public long LengthOf(int layer) => _keys[layer]?.shape[2] ?? 0;

    /// <summary>Appends this step's keys/values of one layer ([B, H, T, D]) and returns the full history.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        var allKeys = _keys[layer] is null ? keys.alias() : cat([_keys[layer]!, keys], 2);
        var allValues = _values[layer] is null ? values.alias() : cat([_values[layer]!, values], 2);
        Replace(ref _keys[layer], allKeys);
        Replace(ref _values[layer], allValues);
        return (allKeys, allValues);
    }

    private static void Replace(ref Tensor? slot, Tensor next)
    {
        // The cache outlives the caller's dispose scope: detach the new tensor from it, free the old one.
        var kept = next.DetachFromDisposeScope();
        if (!ReferenceEquals(slot, kept)) slot?.Dispose();
        slot = kept;
    }

    public void Dispose()
    {
        foreach (var t in _keys) t?.Dispose();
        foreach (var t in _values) t?.Dispose();
        Array.Clear(_keys);
        Array.Clear(_values);
    }
}
