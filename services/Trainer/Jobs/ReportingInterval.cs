using System.Diagnostics;

namespace MentorKd.Trainer.Jobs;

/// <summary>Says when enough time has passed since the last report to send another.</summary>
public sealed class ReportingInterval(TimeSpan interval)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _last = TimeSpan.MinValue;

    public bool Due()
    {
        var now = _clock.Elapsed;
        if (_last != TimeSpan.MinValue && now - _last < interval) return false;
        _last = now;
        return true;
    }
}
