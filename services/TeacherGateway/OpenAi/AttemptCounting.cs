namespace MentorKd.TeacherGateway.OpenAi;

/// <summary>Counts every HTTP attempt (retries included) against the request whose calls are in progress on this async
/// flow (<see cref="UsageMeter.Current"/>), so usage shows how many attempts each paid call took.</summary>
public sealed class AttemptCounting : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        UsageMeter.Current?.RecordAttempt();
        return base.SendAsync(request, cancellationToken);
    }
}
