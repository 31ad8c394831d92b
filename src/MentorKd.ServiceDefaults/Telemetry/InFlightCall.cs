namespace MentorKd.ServiceDefaults.Telemetry;

/// <summary>Counts a model call in <see cref="PlatformTelemetry.ModelCallsInFlight"/> (by method) until disposed.</summary>
public readonly struct InFlightCall : IDisposable
{
    private readonly KeyValuePair<string, object?> _method;

    public InFlightCall(string method)
    {
        _method = new("method", method);
        PlatformTelemetry.ModelCallsInFlight.Add(1, _method);
    }

    public void Dispose() => PlatformTelemetry.ModelCallsInFlight.Add(-1, _method);
}
