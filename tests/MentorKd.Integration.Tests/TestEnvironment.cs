using System.Runtime.CompilerServices;

namespace MentorKd.Integration.Tests;

/// <summary>
/// Settings the Docker setup here needs, applied when the environment does not already give them (make test does):
/// Debian's dockerd speaks API 1.41, Ryuk's image cannot be pulled, and mapped ports are reached on 127.0.0.1.
/// Image names come from the environment; the defaults are the official images, for machines with a registry.
/// </summary>
internal static class TestEnvironment
{
    public static string RabbitMqImage => Environment.GetEnvironmentVariable("MENTORKD_RABBITMQ_IMAGE") is { Length: > 0 } image ? image : "rabbitmq:3.13-management";
    public static string S3Image => Environment.GetEnvironmentVariable("MENTORKD_S3_IMAGE") is { Length: > 0 } image ? image : "minio/minio:latest";

#pragma warning disable CA2255 // a test assembly's own process settings, before Testcontainers reads them
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void ApplyDefaults()
    {
        SetIfAbsent("DOCKER_API_VERSION", "1.41");
        SetIfAbsent("TESTCONTAINERS_RYUK_DISABLED", "true");
        SetIfAbsent("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1");
    }

    private static void SetIfAbsent(string name, string value)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name))) Environment.SetEnvironmentVariable(name, value);
    }
}
