namespace MentorKd.Tests.Shared;

/// <summary>The keys the tests' platforms are configured with: an admin client the tests call as, one client per role, and
/// the service key the services present to each other. Fresh per test process: nothing outside it knows them.</summary>
internal static class TestKeys
{
    public const string AdminClient = "tests";
    public static readonly string Admin = Fresh();
    public static readonly string Service = Fresh();

    /// <summary>Settings (":"-separated, as in-memory configuration takes them) for a host that accepts the admin client and the service key.</summary>
    public static Dictionary<string, string?> Settings() => new()
    {
        [$"Auth:Clients:{AdminClient}:Key"] = Admin,
        [$"Auth:Clients:{AdminClient}:Role"] = "admin",
        ["Auth:ServiceKey"] = Service,
    };

    public static string Fresh() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
}
