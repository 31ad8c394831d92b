using System.Security.Claims;
using Grpc.Core;

namespace MentorKd.ServiceDefaults.Security;

/// <summary>Who is calling an RPC, as authentication established it, and the checks on what a client owns.</summary>
public static class CallerIdentity
{
    public static PlatformClient Caller(this ServerCallContext context)
    {
        var user = context.GetHttpContext().User;
        // Every RPC is behind authorization, so this cannot happen on a host wired as the services are; if it does, refuse.
        if (user.Identity?.Name is not { } name || user.FindFirstValue(ClaimTypes.Role) is not { } role)
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the caller is not authenticated."));
        return new PlatformClient(name, role);
    }

    /// <summary>PermissionDenied unless the caller owns what it acts on (<paramref name="owner"/>: the client recorded when it
    /// was created) or is an admin (the platform's own services are).</summary>
    public static void RequireOwnerOrAdmin(this PlatformClient caller, string? owner, string what)
    {
        if (caller.IsAdmin || owner == caller.Name) return;
        throw new RpcException(new Status(StatusCode.PermissionDenied,
            $"client '{caller.Name}' may not act on {what}: it was started by {(string.IsNullOrEmpty(owner) ? "the platform" : $"client '{owner}'")}, and only its owner or an admin may."));
    }
}
