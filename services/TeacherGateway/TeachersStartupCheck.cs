namespace MentorKd.TeacherGateway;

/// <summary>Builds the gateway's teachers when the host starts, so a misconfigured one (a missing key, template or
/// default) stops it at once with the reason, not on the first request.</summary>
public sealed class TeachersStartupCheck(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = services.GetRequiredService<TeacherDirectory>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
