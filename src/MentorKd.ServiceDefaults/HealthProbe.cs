using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;

namespace MentorKd.ServiceDefaults;

/// <summary>
/// <c>&lt;service&gt; healthcheck</c>: asks the service's own gRPC health endpoint and exits 0 when it is serving.
/// Container health checks run it inside the container, so the images need no other probing tool.
/// </summary>
public static class HealthProbe
{
    public static bool IsRequested(string[] args) => args is ["healthcheck", ..];

    public static async Task<int> RunAsync(string[] args)
    {
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(args.Skip(1).ToArray())
            .Build();
        // The endpoint the service listens on, with a wildcard host replaced by loopback.
        var url = configuration["Kestrel:Endpoints:Grpc:Url"] ?? "http://localhost:80";
        var address = new UriBuilder(url.Replace("0.0.0.0", "127.0.0.1").Replace("[::]", "127.0.0.1").Replace("+", "127.0.0.1").Replace("*", "127.0.0.1")).Uri;
        try
        {
            // With TLS on, the certificate names the service's public host, not loopback; the probe asks its own process over
            // loopback and sends nothing secret, so it takes the certificate as it is.
            using var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
            {
                HttpHandler = address.Scheme == Uri.UriSchemeHttps
                    ? new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } }
                    : null,
                DisposeHttpClient = true,
            });
            var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
            Console.WriteLine($"{address}: {reply.Status}");
            return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving ? 0 : 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"{address}: {e.Message}");
            return 1;
        }
    }
}
