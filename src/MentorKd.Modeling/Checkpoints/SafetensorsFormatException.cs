namespace MentorKd.Modeling.Checkpoints;

/// <summary>A checkpoint file that cannot be read as promised; the message names the file and, where known, the tensor.</summary>
public sealed class SafetensorsFormatException(string path, string? tensor, string problem)
    : IOException(tensor is null ? $"{path}: {problem}" : $"{path}: tensor '{tensor}': {problem}")
{
    public string Path { get; } = path;
    public string? Tensor { get; } = tensor;
}
