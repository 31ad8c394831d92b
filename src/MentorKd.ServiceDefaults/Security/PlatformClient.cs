namespace MentorKd.ServiceDefaults.Security;

/// <summary>A client as the platform knows it once its key checked out.</summary>
public sealed record PlatformClient(string Name, string Role)
{
    public bool IsAdmin => Role == PlatformRoles.Admin;
}
