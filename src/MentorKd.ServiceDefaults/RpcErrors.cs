using System.Diagnostics.CodeAnalysis;
using Grpc.Core;
using MentorKd.Storage;

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

    /// <summary>An object-store key from a request: InvalidArgument naming the field when it is empty or unsafe.</summary>
    public static void RequireKey(string key, string field)
    {
        try { ObjectKey.Validate(key, field); }
        catch (ArgumentException e) { InvalidArgument(field, e.Message); }
    }
}
