using System.Globalization;
using System.Text.RegularExpressions;

namespace MentorKd.TeacherGateway.OpenAi;

/// <summary>
/// Honours the API's rate-limit headers: when a response says no requests or tokens remain
/// (<c>x-ratelimit-remaining-*: 0</c>), the next attempt waits until the matching <c>x-ratelimit-reset-*</c> has passed
/// instead of being refused.
/// </summary>
public sealed partial class RateLimitHeaderPacing : DelegatingHandler
{
    private long _notBeforeTicks; // UTC ticks before which no attempt is sent

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var wait = new DateTime(Interlocked.Read(ref _notBeforeTicks), DateTimeKind.Utc) - DateTime.UtcNow;
        if (wait > TimeSpan.Zero) await Task.Delay(wait, cancellationToken);
        var response = await base.SendAsync(request, cancellationToken);
        foreach (var kind in (string[])["requests", "tokens"])
            if (Header(response, $"x-ratelimit-remaining-{kind}") == "0" && Duration(Header(response, $"x-ratelimit-reset-{kind}")) is { } reset)
            {
                long until = (DateTime.UtcNow + reset).Ticks, seen;
                do seen = Interlocked.Read(ref _notBeforeTicks);
                while (until > seen && Interlocked.CompareExchange(ref _notBeforeTicks, until, seen) != seen);
            }
        return response;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault()?.Trim() : null;

    /// <summary>OpenAI's reset durations: "1s", "6m0s", "250ms", "1.5s" (a bare number is seconds).</summary>
    public static TimeSpan? Duration(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)) return TimeSpan.FromSeconds(seconds);
        var parts = DurationPart().Matches(text);
        if (parts.Count == 0 || parts.Sum(p => p.Length) != text.Length) return null;
        return parts.Aggregate(TimeSpan.Zero, (sum, p) =>
        {
            var value = double.Parse(p.Groups[1].Value, CultureInfo.InvariantCulture);
            return sum + p.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(value), "s" => TimeSpan.FromSeconds(value), "m" => TimeSpan.FromMinutes(value), _ => TimeSpan.FromHours(value),
            };
        });
    }

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|s|m|h)")]
    private static partial Regex DurationPart();
}
