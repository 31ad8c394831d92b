using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Security;
using MentorKd.TeacherGateway.Extensions;
using MentorKd.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace MentorKd.Services.Tests;

/// <summary>
/// TLS on a service's gRPC endpoint as a deployment turns it on: nothing but configuration (Kestrel's endpoint URL and the
/// certificate and key paths, PEM files from the deployment's own CA), the service's own wiring otherwise. A client that
/// trusts that CA calls it with its key; one that does not, or that speaks cleartext, gets nowhere.
/// </summary>
public class TlsTests
{
    [Fact]
    public async Task A_service_serves_grpc_over_tls_from_certificate_paths_in_its_configuration()
    {
        var folder = Path.Combine(Path.GetTempPath(), "mentorkd-service-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        using var ca = CertificateAuthority();
        using var server = ServerCertificate(ca);
        string certificate = Path.Combine(folder, "tls.crt"), key = Path.Combine(folder, "tls.key");
        await File.WriteAllTextAsync(certificate, server.ExportCertificatePem());
        await File.WriteAllTextAsync(key, server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

        int port = FreePort();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder, EnvironmentName = "Testing" });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        await using var app = TestServiceHost.Build(builder, folder, b => b.AddTeacherGateway(), a => a.MapTeacherGateway(), new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Grpc:Url"] = $"https://127.0.0.1:{port}",
            ["Kestrel:Endpoints:Grpc:Protocols"] = "Http2",
            ["Kestrel:Endpoints:Grpc:Certificate:Path"] = certificate,
            ["Kestrel:Endpoints:Grpc:Certificate:KeyPath"] = key,
        });
        await app.StartAsync();

        using (var trusting = Channel($"https://127.0.0.1:{port}", ca))
        {
            var usage = await new Protos.V1.TeacherGateway.TeacherGatewayClient(trusting).GetUsageAsync(new GetUsageRequest());
            Assert.Equal(0, usage.Requests);
        }
        using (var untrusting = Channel($"https://127.0.0.1:{port}", trusted: null))
        {
            var refused = await Assert.ThrowsAsync<RpcException>(async () => await new Protos.V1.TeacherGateway.TeacherGatewayClient(untrusting).GetUsageAsync(new GetUsageRequest()));
            Assert.Contains("SSL connection could not be established", refused.Status.DebugException?.ToString() ?? refused.Status.Detail); // not from a CA it trusts
        }
        using (var cleartext = Channel($"http://127.0.0.1:{port}", trusted: null))
            await Assert.ThrowsAsync<RpcException>(async () => await new Protos.V1.TeacherGateway.TeacherGatewayClient(cleartext).GetUsageAsync(new GetUsageRequest()));

        // The container health probe reaches the service through its own TLS endpoint.
        Assert.Equal(0, await HealthProbe.RunAsync(["healthcheck", $"--Kestrel:Endpoints:Grpc:Url=https://0.0.0.0:{port}"]));
        await app.StopAsync();
    }

    /// <summary>A client with the tests' key that trusts only certificates from <paramref name="trusted"/> (null: the system's CAs).</summary>
    private static GrpcChannel Channel(string address, X509Certificate2? trusted)
    {
        var handler = new SocketsHttpHandler();
        if (trusted is not null)
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(trusted);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return certificate is not null && chain.Build(new X509Certificate2(certificate));
            };
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = new ApiKeyHeaderHandler(TestKeys.Admin, handler), DisposeHttpClient = true });
    }

    private static X509Certificate2 CertificateAuthority()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=MentorKd test CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 ServerCertificate(X509Certificate2 ca)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=teacher-gateway", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // server authentication
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(12), RandomNumberGenerator.GetBytes(8));
        return signed.CopyWithPrivateKey(key);
    }

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
