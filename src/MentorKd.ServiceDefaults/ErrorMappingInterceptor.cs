using Grpc.Core;
using Grpc.Core.Interceptors;
using MentorKd.Storage;
using Microsoft.Extensions.Logging;

namespace MentorKd.ServiceDefaults;

/// <summary>
/// Turns exceptions that escape a handler into the status codes clients can act on: bad arguments become
/// InvalidArgument (with the parameter named), missing objects NotFound, a full queue ResourceExhausted,
/// cancellation Cancelled. Anything else is logged and returned as Internal without internals.
/// </summary>
public sealed class ErrorMappingInterceptor(ILogger<ErrorMappingInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try { return await continuation(request, context); }
        catch (Exception e) when (e is not RpcException) { throw Map(e, context); }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try { await continuation(request, responseStream, context); }
        catch (Exception e) when (e is not RpcException) { throw Map(e, context); }
    }

    private RpcException Map(Exception e, ServerCallContext context)
    {
        var status = e switch
        {
            ArgumentException a => new Status(StatusCode.InvalidArgument, a.ParamName is { } p && !a.Message.Contains(p) ? $"{p}: {a.Message}" : a.Message),
            ObjectNotFoundException or FileNotFoundException or DirectoryNotFoundException => new Status(StatusCode.NotFound, e.Message),
            QueueFullException => new Status(StatusCode.ResourceExhausted, e.Message),
            OperationCanceledException when context.CancellationToken.IsCancellationRequested =>
                context.Deadline < DateTime.UtcNow ? new Status(StatusCode.DeadlineExceeded, "deadline exceeded") : new Status(StatusCode.Cancelled, "cancelled by the client"),
            OperationCanceledException => new Status(StatusCode.Cancelled, e.Message),
            InvalidDataException => new Status(StatusCode.FailedPrecondition, e.Message),
            _ => new Status(StatusCode.Internal, "internal error"),
        };
        if (status.StatusCode == StatusCode.Internal) logger.LogError(e, "Unhandled error in {Method}", context.Method);
        return new RpcException(status);
    }
}
