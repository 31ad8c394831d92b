using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MentorKd.ServiceDefaults.Security;

/// <summary>
/// ASP.NET Core authentication from <c>authorization: Bearer &lt;key&gt;</c> (how gRPC clients and OpenAI clients alike send
/// a key): the caller becomes the key's client, with its name and role as claims.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    ApiKeyDirectory directory) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string Anonymous = "anonymous";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (directory.IsOpen) return Task.FromResult(Success(new PlatformClient(Anonymous, PlatformRoles.Admin)));
        string header = Request.Headers.Authorization.ToString();
        if (header.Length == 0) return Task.FromResult(AuthenticateResult.NoResult());
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return Task.FromResult(AuthenticateResult.Fail("the authorization header is not 'Bearer <key>'."));
        return Task.FromResult(directory.Find(header["Bearer ".Length..].Trim()) is { } client
            ? Success(client)
            : AuthenticateResult.Fail("the key is not one of this platform's."));
    }

    private AuthenticateResult Success(PlatformClient client)
    {
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, client.Name), new Claim(ClaimTypes.Role, client.Role)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}
