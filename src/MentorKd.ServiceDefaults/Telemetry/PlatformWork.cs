using System.Diagnostics;

namespace MentorKd.ServiceDefaults.Telemetry;

/// <summary>
/// One piece of work a service takes from its queue, as a span (child of the message's consume span, so it joins the
/// run's trace) and a duration in <see cref="PlatformTelemetry.WorkDuration"/>. The outcome is "failed" unless
/// <see cref="SetOutcome"/> says otherwise before it is disposed, or "interrupted" when the work's token was cancelled
/// (the host stopping under it: the message is redelivered and the work done again, so it did not fail).
/// </summary>
public sealed class PlatformWork : IDisposable
{
    private readonly Activity? _activity;
    private readonly string _kind;
    private readonly CancellationToken _stopping;
    private readonly long _started = Stopwatch.GetTimestamp();
    private string _outcome = "failed";

    private PlatformWork(string kind, Activity? activity, CancellationToken stopping) => (_kind, _activity, _stopping) = (kind, activity, stopping);

    /// <param name="kind">training, evaluation, annotation, augmentation, synthesis</param>
    /// <param name="id">the job, evaluation or request it is about</param>
    /// <param name="stopping">the consumer's token: cancelled when the host stops under the work</param>
    public static PlatformWork Start(string kind, string id, CancellationToken stopping)
    {
        // Named by kind (few names, as tracing backends group by them); which job or request is a tag.
        var activity = PlatformTelemetry.Activities.StartActivity(kind);
        activity?.SetTag("mentorkd.work", kind);
        activity?.SetTag("mentorkd.work.id", id);
        PlatformTelemetry.WorkInProgress.Add(1, new KeyValuePair<string, object?>("mentorkd.work", kind));
        return new PlatformWork(kind, activity, stopping);
    }

    public void Tag(string name, object? value) => _activity?.SetTag(name, value);

    public void SetOutcome(string outcome) => _outcome = outcome;

    public void Dispose()
    {
        var seconds = Stopwatch.GetElapsedTime(_started).TotalSeconds;
        if (_outcome == "failed" && _stopping.IsCancellationRequested) _outcome = "interrupted";
        PlatformTelemetry.WorkInProgress.Add(-1, new KeyValuePair<string, object?>("mentorkd.work", _kind));
        PlatformTelemetry.WorkDuration.Record(seconds, new("mentorkd.work", _kind), new("outcome", _outcome));
        if (_activity is not null)
        {
            _activity.SetTag("outcome", _outcome);
            if (_outcome == "failed") _activity.SetStatus(ActivityStatusCode.Error);
            _activity.Dispose();
        }
    }
}
