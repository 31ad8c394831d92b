using Microsoft.Extensions.Options;

namespace MentorKd.ServiceDefaults.Security;

/// <summary>The Auth section checked when the host starts: a setting that cannot work stops the service naming it.</summary>
internal sealed class AuthOptionsValidation : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        try
        {
            ApiKeyDirectory.Load(options);
            return ValidateOptionsResult.Success;
        }
        catch (InvalidOperationException e) { return ValidateOptionsResult.Fail(e.Message); }
    }
}
