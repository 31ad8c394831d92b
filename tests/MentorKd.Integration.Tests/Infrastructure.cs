using System.Net;
using System.Net.Sockets;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Containers;
using Minio;
using Testcontainers.RabbitMq;

namespace MentorKd.Integration.Tests;

/// <summary>
/// RabbitMQ and an S3 server in containers, started once for the tests of the "infrastructure" collection.
/// RabbitMQ's AMQP port is bound to a fixed host port so a restarted broker comes back where clients expect it.
/// The S3 server is MinIO (the official image) or s3rver (the image built here), told apart by the image name.
/// </summary>
public sealed class Infrastructure : IAsyncLifetime
{
    public const string RabbitUser = "mentorkd", RabbitPassword = "mentorkd-test";
    public const string Bucket = "mentorkd-it";

    private RabbitMqContainer _rabbit = null!;
    private IContainer _s3 = null!;
    private S3Flavour _flavour = null!;

    public string RabbitHost => _rabbit.Hostname;
    public int RabbitPort { get; private set; }
    public string S3Host => _s3.Hostname;
    public int S3Port => _s3.GetMappedPublicPort(_flavour.Port);
    public string S3Endpoint => $"{S3Host}:{S3Port}";
    public string S3AccessKey => _flavour.AccessKey;
    public string S3SecretKey => _flavour.SecretKey;

    public async Task InitializeAsync()
    {
        RabbitPort = FreePort();
        _rabbit = new RabbitMqBuilder(TestEnvironment.RabbitMqImage)
            .WithUsername(RabbitUser).WithPassword(RabbitPassword)
            .WithPortBinding(RabbitPort, 5672)
            .Build();
        _flavour = S3Flavour.For(TestEnvironment.S3Image);
        _s3 = _flavour.Configure(new ContainerBuilder(TestEnvironment.S3Image)).Build();
        await Task.WhenAll(_rabbit.StartAsync(), _s3.StartAsync());
        if (_flavour.NeedsBucket)
        {
            using var client = NewMinioClient();
            await client.MakeBucketAsync(new Minio.DataModel.Args.MakeBucketArgs().WithBucket(Bucket));
        }
    }

    /// <param name="endpoint">host:port to reach the S3 server at (a proxy in front of it); by default, the server itself.</param>
    public IMinioClient NewMinioClient(string? endpoint = null) => new MinioClient().WithEndpoint(endpoint ?? S3Endpoint).WithCredentials(S3AccessKey, S3SecretKey).WithSSL(false).Build();

    /// <summary>Stops and starts the broker (same container, same host port): what a broker restart looks like to clients.</summary>
    public async Task RestartRabbitMqAsync(TimeSpan downtime)
    {
        await _rabbit.StopAsync();
        await Task.Delay(downtime);
        await _rabbit.StartAsync();
    }

    /// <summary>Settings (environment variables, ASP.NET configuration style) that point a service at these servers.</summary>
    public Dictionary<string, string> ServiceSettings() => new()
    {
        ["ObjectStore__Kind"] = "minio",
        ["ObjectStore__Endpoint"] = S3Endpoint,
        ["ObjectStore__AccessKey"] = S3AccessKey,
        ["ObjectStore__SecretKey"] = S3SecretKey,
        ["ObjectStore__Bucket"] = Bucket,
        ["Messaging__Transport"] = "rabbitmq",
        ["Messaging__Host"] = RabbitHost,
        ["Messaging__Port"] = RabbitPort.ToString(),
        ["Messaging__Username"] = RabbitUser,
        ["Messaging__Password"] = RabbitPassword,
    };

    public async Task DisposeAsync()
    {
        await _rabbit.DisposeAsync();
        await _s3.DisposeAsync();
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>How to run and reach one kind of S3 server.</summary>
    private sealed record S3Flavour(int Port, string AccessKey, string SecretKey, bool NeedsBucket, Func<ContainerBuilder, ContainerBuilder> Configure)
    {
        public static S3Flavour For(string image) => image.Contains("minio", StringComparison.OrdinalIgnoreCase)
            ? new S3Flavour(9000, "mentorkd", "mentorkd-secret", NeedsBucket: true, builder => builder
                .WithCommand("server", "/data")
                .WithEnvironment("MINIO_ROOT_USER", "mentorkd").WithEnvironment("MINIO_ROOT_PASSWORD", "mentorkd-secret")
                .WithPortBinding(9000, true)
                .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(r => r.ForPort(9000).ForPath("/minio/health/ready"))))
            : new S3Flavour(4568, "S3RVER", "S3RVER", NeedsBucket: false, builder => builder
                .WithEnvironment("S3RVER_BUCKETS", Bucket)
                .WithPortBinding(4568, true)
                .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(r => r.ForPort(4568).ForPath("/").ForStatusCodeMatching(_ => true))));
    }
}

[CollectionDefinition(Name)]
public sealed class InfrastructureCollection : ICollectionFixture<Infrastructure>
{
    public const string Name = "infrastructure";
}
