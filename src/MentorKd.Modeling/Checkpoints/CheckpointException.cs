namespace MentorKd.Modeling.Checkpoints;

/// <summary>A model folder that does not fit the model it describes; the message names the file and tensor.</summary>
public sealed class CheckpointException(string message) : IOException(message);
