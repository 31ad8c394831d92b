using System.CommandLine;
using Grpc.Net.Client;
using MentorKd.ServiceDefaults.Security;

namespace MentorKd.Cli.Commands;

/// <summary>How the commands that call a running platform reach it: its address and the client's API key
/// (<c>--api-key</c>, or the MENTORKD_API_KEY environment variable so the key stays out of the shell's history).</summary>
internal static class PlatformConnection
{
    public const string ApiKeyVariable = "MENTORKD_API_KEY";

    public static Option<string?> ApiKey() => new("--api-key")
    {
        Description = $"The client's API key (default: the {ApiKeyVariable} environment variable).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } key ? key : null,
    };

    /// <summary>A channel to <paramref name="address"/> presenting <paramref name="apiKey"/> (none when null).</summary>
    public static GrpcChannel Open(string address, string? apiKey) => KeyedChannel.ForAddress(address, apiKey);
}
