namespace MentorKd.ServiceDefaults.Security;

/// <summary>
/// Who may call a service (the "Auth" section). Callers send <c>authorization: Bearer &lt;key&gt;</c>; each key belongs to
/// one named client with one role. The platform's own services call each other with <see cref="ServiceKey"/>, which every
/// service of a deployment shares and accepts as the <c>admin</c> client <see cref="ServiceClientName"/>.
/// </summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";
    /// <summary>Keys are required (the default).</summary>
    public const string ApiKeys = "api-keys";
    /// <summary>No keys: every caller is an anonymous admin. For a platform only its own user can reach.</summary>
    public const string Open = "open";
    public const string ServiceClientName = "platform-services";
    public const int MinimumKeyLength = 24;

    public string Mode { get; set; } = ApiKeys;
    /// <summary>The deployment's clients by name.</summary>
    public Dictionary<string, ClientCredential> Clients { get; set; } = new();
    /// <summary>The key this service presents on its calls to the platform's other services (and accepts from them).</summary>
    public string? ServiceKey { get; set; }
    /// <summary>A file holding <see cref="ServiceKey"/> (a mounted secret), instead of the key itself.</summary>
    public string? ServiceKeyFile { get; set; }
    /// <summary>gRPC reflection without a key (it lists the services and messages, nothing of a run's data).</summary>
    public bool AnonymousReflection { get; set; }
}
