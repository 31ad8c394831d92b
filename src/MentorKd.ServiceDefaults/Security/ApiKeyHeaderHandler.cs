using System.Net.Http.Headers;

namespace MentorKd.ServiceDefaults.Security;

/// <summary>Puts a key on every request of an HTTP client: a service's own calls to the platform's other services, and a
/// gRPC client's (the CLI's, a test's) calls to a platform. Over h2c the key travels in the clear, as the data does:
/// deployments across untrusted networks turn on TLS (README, "Security").</summary>
public sealed class ApiKeyHeaderHandler(string key) : DelegatingHandler
{
    public ApiKeyHeaderHandler(string key, HttpMessageHandler inner) : this(key) => InnerHandler = inner;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return base.SendAsync(request, cancellationToken);
    }
}
