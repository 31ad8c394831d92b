using Grpc.Net.Client;

namespace MentorKd.ServiceDefaults.Security;

/// <summary>A gRPC channel to a platform service that presents an API key on every call (none when null), with the
/// platform's message size limit. The channel owns its handler, so disposing it closes its connections.</summary>
public static class KeyedChannel
{
    public static GrpcChannel ForAddress(string address, string? apiKey) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        MaxReceiveMessageSize = ServiceDefaultsExtensions.MaxMessageBytes,
        MaxSendMessageSize = ServiceDefaultsExtensions.MaxMessageBytes,
        HttpHandler = apiKey is null ? null : new ApiKeyHeaderHandler(apiKey, new SocketsHttpHandler { EnableMultipleHttp2Connections = true }),
        DisposeHttpClient = true,
    });
}
