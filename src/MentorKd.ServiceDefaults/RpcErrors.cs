using System.Diagnostics.CodeAnalysis;
using Grpc.Core;

namespace MentorKd.ServiceDefaults;

/// <summary>gRPC errors with messages that name the offending field or object.</summary>
public static class RpcErrors
{
    [DoesNotReturn]
    public static void InvalidArgument(string field, string problem) =>
        throw new RpcException(new Status(StatusCode.InvalidArgument, $"{field}: {problem}"));

    [DoesNotReturn]
    public static void NotFound(string what) => throw new RpcException(new Status(StatusCode.NotFound, what));

    [DoesNotReturn]
    public static void FailedPrecondition(string why) => throw new RpcException(new Status(StatusCode.FailedPrecondition, why));

    [DoesNotReturn]
    public static void ResourceExhausted(string why) => throw new RpcException(new Status(StatusCode.ResourceExhausted, why));

    public static void Require(bool ok, string field, string problem)
    {
        if (!ok) InvalidArgument(field, problem);
    }
}
