namespace MentorKd.ServiceDefaults;

/// <summary>A model's work queue is full; clients should back off and retry (ResourceExhausted).</summary>
public sealed class QueueFullException(string message) : Exception(message);
