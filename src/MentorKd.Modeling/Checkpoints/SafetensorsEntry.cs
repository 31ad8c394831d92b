using static TorchSharp.torch;

namespace MentorKd.Modeling.Checkpoints;

/// <summary>One tensor's header record: where its bytes lie relative to the start of the data buffer.</summary>
public sealed record SafetensorsEntry(string Name, string DType, ScalarType Type, long[] Shape, long Begin, long End);
