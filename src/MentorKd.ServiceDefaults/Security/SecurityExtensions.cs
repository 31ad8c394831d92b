using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MentorKd.ServiceDefaults.Security;

/// <summary>Authentication and authorization as every service host wires them: API keys, one policy per role, and every
/// endpoint behind a key unless it says otherwise (health checks; reflection when the deployment allows it).</summary>
public static class SecurityExtensions
{
    public static IHostApplicationBuilder AddPlatformAuth(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidation>();
        builder.Services.AddSingleton(provider => ApiKeyDirectory.Create(provider.GetRequiredService<IOptions<AuthOptions>>()));
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorization(authorization =>
        {
            foreach (var role in PlatformRoles.All) authorization.AddPolicy(role, policy => policy.RequireRole(PlatformRoles.AtLeast(role)));
            // An endpoint that names no policy still needs a key: a new RPC is never open by omission.
            authorization.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
        });
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, GrpcAuthorizationResultHandler>();
        return builder;
    }

    /// <summary>The service's key on every call of a client to the platform's other services (when one is configured).</summary>
    public static IHttpClientBuilder AddServiceCredentials(this IHttpClientBuilder client) =>
        client.AddHttpMessageHandler(provider => ApiKeyDirectory.ServiceKey(provider.GetRequiredService<IOptions<AuthOptions>>().Value) is { } key
            ? new ApiKeyHeaderHandler(key)
            : new PassThroughHandler());

    private sealed class PassThroughHandler : DelegatingHandler;
}
