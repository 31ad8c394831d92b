namespace MentorKd.ServiceDefaults.Security;

/// <summary>One client's credential: its key given as is, in a file, or as its SHA-256 (hex), and its role.</summary>
public sealed class ClientCredential
{
    public string? Key { get; set; }
    public string? KeyFile { get; set; }
    public string? KeySha256 { get; set; }
    public string Role { get; set; } = PlatformRoles.Reader;
}
