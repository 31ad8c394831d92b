using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MentorKd.ServiceDefaults.Telemetry;

/// <summary>
/// The platform's own traces and metrics (OpenTelemetry source and meter "MentorKd"), beside the ecosystem's (ASP.NET
/// Core, HttpClient, MassTransit). Nothing is recorded unless a listener is attached, which the services do only when
/// an OTLP endpoint is configured (<see cref="TelemetryExtensions"/>).
/// </summary>
public static class PlatformTelemetry
{
    public const string Name = "MentorKd";

    public static readonly ActivitySource Activities = new(Name);
    public static readonly Meter Meter = new(Name);

    /// <summary>How long one piece of queued work took (a training slice, an evaluation, an annotation, …), by kind and outcome.</summary>
    public static readonly Histogram<double> WorkDuration = Meter.CreateHistogram<double>("mentorkd.work.duration", "s",
        "Duration of one piece of work a service took from its queue, by kind and outcome.");
    /// <summary>Queued work being done now, by kind: what a service has taken off its queue and not finished.</summary>
    public static readonly UpDownCounter<long> WorkInProgress = Meter.CreateUpDownCounter<long>("mentorkd.work.in_progress", "{work}",
        "Work taken from a queue and not yet finished, by kind.");
    /// <summary>Generate and GetSoftLabels calls waiting for or on the mentor-server's model thread: its queue depth.</summary>
    public static readonly UpDownCounter<long> ModelCallsInFlight = Meter.CreateUpDownCounter<long>("mentorkd.mentor_server.calls_in_flight", "{call}",
        "Calls waiting for or being served by the mentor-server's model, by method.");
    public static readonly Histogram<double> TrainingTokensPerSecond = Meter.CreateHistogram<double>("mentorkd.training.tokens_per_second", "{token}/s",
        "Training throughput of a job's slice, as its last progress report gave it.");
    public static readonly Counter<long> TeacherCalls = Meter.CreateCounter<long>("mentorkd.teacher.calls", "{call}",
        "Teacher requests answered (ledger hits not included), by teacher, as they are made.");
    public static readonly Counter<long> TeacherErrors = Meter.CreateCounter<long>("mentorkd.teacher.errors", "{sample}",
        "Rationales or problems lost to teacher calls that failed after every retry (annotation and synthesis), by teacher: " +
        "a failed call counts once per sample it asked for, so errors can exceed calls when one call asks for several.");
}
