using System.Collections.Concurrent;
using MentorKd.Contracts;
using MentorKd.ServiceDefaults.Telemetry;

namespace MentorKd.TeacherGateway;

/// <summary>The gateway's running totals, per teacher, since it started (thread-safe).</summary>
public sealed class TeacherUsage
{
    private readonly ConcurrentDictionary<string, UsageMeter> _byTeacher = new(StringComparer.Ordinal);

    /// <summary>A meter for <paramref name="teacher"/>'s work on one request: what it records counts for the request's
    /// meter and for the teacher's totals too.</summary>
    public UsageMeter Meter(string teacher, UsageMeter request) => new(request, _byTeacher.GetOrAdd(teacher, UsageMeter.ReportingAs));

    public IReadOnlyDictionary<string, TeacherUsageTotals> ByTeacher() =>
        _byTeacher.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => p.Value.Snapshot());

    public TeacherUsageTotals Total() => ByTeacher().Values.Aggregate(TeacherUsageTotals.None, (sum, t) => sum.Add(t));
}

/// <summary>
/// Counts of teacher work (thread-safe); what a meter records is counted into the meters it was made with as well. The meter of the annotation in
/// progress on this async flow is <see cref="Current"/>, so the HTTP pipeline can count each attempt against it. A teacher's
/// totals meter (<see cref="ReportingAs"/>) also counts calls and failures into the platform's metrics, whichever request
/// (queued annotation or synthesis, or a gRPC call) made them.
/// </summary>
public sealed class UsageMeter(params UsageMeter[] alsoInto)
{
    private static readonly AsyncLocal<UsageMeter?> CurrentMeter = new();
    private KeyValuePair<string, object?>? _metricTag;

    /// <summary>The totals meter of <paramref name="teacher"/>: what it counts is also reported as <c>mentorkd.teacher.*</c>.</summary>
    public static UsageMeter ReportingAs(string teacher) => new() { _metricTag = new("teacher", teacher) };
    private long _requests, _attempts, _questions, _rationales, _promptTokens, _completionTokens, _cacheHits, _problems, _failures;
    private double _cost;
    private readonly Lock _costLock = new();

    public static UsageMeter? Current { get => CurrentMeter.Value; set => CurrentMeter.Value = value; }

    /// <summary>A question answered with its rationales.</summary>
    public void RecordQuestion(int rationales) => Apply(m => { Interlocked.Increment(ref m._questions); Interlocked.Add(ref m._rationales, rationales); });

    /// <summary>A paid call, with the API's own token counts and its price.</summary>
    public void RecordCall(long promptTokens, long completionTokens, double cost) => Apply(m =>
    {
        Interlocked.Increment(ref m._requests);
        Interlocked.Add(ref m._promptTokens, promptTokens);
        Interlocked.Add(ref m._completionTokens, completionTokens);
        lock (m._costLock) m._cost += cost;
        if (m._metricTag is { } teacher) PlatformTelemetry.TeacherCalls.Add(1, teacher);
    });

    /// <summary>One HTTP attempt sent (a retried call makes several).</summary>
    public void RecordAttempt() => Apply(m => Interlocked.Increment(ref m._attempts));

    /// <summary>A call answered from the ledger (not paid again).</summary>
    public void RecordCacheHit() => Apply(m => Interlocked.Increment(ref m._cacheHits));

    /// <summary>A reply kept as a problem (empty, refused, no answer).</summary>
    public void RecordProblem() => Apply(m => Interlocked.Increment(ref m._problems));

    /// <summary>A call that failed after every retry.</summary>
    public void RecordFailure() => Apply(m =>
    {
        Interlocked.Increment(ref m._failures);
        if (m._metricTag is { } teacher) PlatformTelemetry.TeacherErrors.Add(1, teacher);
    });

    /// <summary>An offline teacher's question: one request, whitespace words standing in for tokens (it has no tokenizer).</summary>
    public void RecordOffline(string prompt, IEnumerable<string> completions)
    {
        RecordCall(Words(prompt), completions.Sum(Words), 0);
        RecordAttempt();
    }

    public TeacherUsageTotals Snapshot()
    {
        double cost;
        lock (_costLock) cost = _cost;
        return new(Interlocked.Read(ref _requests), Interlocked.Read(ref _attempts), Interlocked.Read(ref _questions), Interlocked.Read(ref _rationales),
            Interlocked.Read(ref _promptTokens), Interlocked.Read(ref _completionTokens), Interlocked.Read(ref _cacheHits), Interlocked.Read(ref _problems),
            Interlocked.Read(ref _failures), cost);
    }

    private void Apply(Action<UsageMeter> record)
    {
        record(this);
        foreach (var meter in alsoInto) record(meter);
    }

    private static long Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
}
