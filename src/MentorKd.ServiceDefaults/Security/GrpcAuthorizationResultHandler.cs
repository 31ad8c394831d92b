using System.Security.Claims;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;

namespace MentorKd.ServiceDefaults.Security;

/// <summary>
/// A refused gRPC call gets a gRPC status with a reason (a trailers-only response) instead of a bare HTTP 401/403, which a
/// client would only see as "Bad gRPC response": <c>Unauthenticated</c> says what was wrong with the key,
/// <c>PermissionDenied</c> which role the method needs. Other requests (the OpenAI API) keep ASP.NET Core's answers.
/// </summary>
public sealed class GrpcAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        bool grpc = context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true;
        if (!grpc || authorizeResult.Succeeded) return _default.HandleAsync(next, context, policy, authorizeResult);

        if (authorizeResult.Challenged)
        {
            var failure = context.Features.Get<IAuthenticateResultFeature>()?.AuthenticateResult?.Failure?.Message;
            return Refuse(context, StatusCode.Unauthenticated, failure is null
                ? "no API key: send the metadata 'authorization: Bearer <key>' (the mentorkd CLI: --api-key or MENTORKD_API_KEY)."
                : $"authorization: {failure}");
        }
        var roles = policy.Requirements.OfType<RolesAuthorizationRequirement>().SelectMany(r => r.AllowedRoles).ToList();
        string who = $"client '{context.User.Identity?.Name}' (role {context.User.FindFirstValue(ClaimTypes.Role)})";
        return Refuse(context, StatusCode.PermissionDenied, roles.Count > 0
            ? $"{who} may not call {context.Request.Path}: it needs the {roles.OrderBy(PlatformRoles.Rank).First()} role."
            : $"{who} may not call {context.Request.Path}.");
    }

    private static Task Refuse(HttpContext context, StatusCode status, string message)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = ((int)status).ToString();
        context.Response.Headers["grpc-message"] = Uri.EscapeDataString(message);
        return Task.CompletedTask;
    }
}
