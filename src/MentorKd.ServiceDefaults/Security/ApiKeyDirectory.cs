using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace MentorKd.ServiceDefaults.Security;

/// <summary>
/// The deployment's keys, read once from <see cref="AuthOptions"/> (key files included) and held only as SHA-256
/// digests, so a key is compared in constant time and never kept in memory as given.
/// </summary>
public sealed class ApiKeyDirectory
{
    private readonly List<(byte[] Digest, PlatformClient Client)> _keys;

    private ApiKeyDirectory(List<(byte[], PlatformClient)> keys, bool open)
    {
        _keys = keys;
        IsOpen = open;
    }

    /// <summary>Every caller is an anonymous admin (<see cref="AuthOptions.Open"/>).</summary>
    public bool IsOpen { get; }

    public static ApiKeyDirectory Create(IOptions<AuthOptions> options) => Load(options.Value);

    /// <summary>The keys of <paramref name="options"/>; a setting that cannot work throws naming it.</summary>
    public static ApiKeyDirectory Load(AuthOptions options)
    {
        if (options.Mode == AuthOptions.Open) return new ApiKeyDirectory([], open: true);
        if (options.Mode != AuthOptions.ApiKeys)
            throw new InvalidOperationException($"Auth:Mode: '{options.Mode}' is not '{AuthOptions.ApiKeys}' or '{AuthOptions.Open}'.");

        var keys = new List<(byte[], PlatformClient)>();
        foreach (var (name, credential) in options.Clients)
        {
            string field = $"Auth:Clients:{name}";
            if (!PlatformRoles.All.Contains(credential.Role))
                throw new InvalidOperationException($"{field}:Role: '{credential.Role}' is not a role ({string.Join(", ", PlatformRoles.All)}).");
            if (name == AuthOptions.ServiceClientName) throw new InvalidOperationException($"{field}: the name is the platform's own services'.");
            int given = (credential.Key is null ? 0 : 1) + (credential.KeyFile is null ? 0 : 1) + (credential.KeySha256 is null ? 0 : 1);
            if (given != 1) throw new InvalidOperationException($"{field}: give exactly one of Key, KeyFile and KeySha256.");
            byte[] digest = credential.KeySha256 is { } hex ? ParseDigest(hex, $"{field}:KeySha256") : Digest(ReadKey(credential.Key, credential.KeyFile, field));
            keys.Add((digest, new PlatformClient(name, credential.Role)));
        }
        if (options.ServiceKey is not null || options.ServiceKeyFile is not null)
            keys.Add((Digest(ReadKey(options.ServiceKey, options.ServiceKeyFile, "Auth:ServiceKey")), new PlatformClient(AuthOptions.ServiceClientName, PlatformRoles.Admin)));
        if (keys.Count == 0)
            throw new InvalidOperationException($"Auth:Clients: no client keys are configured, so no one could call this service. Configure Auth:Clients:<name>:Key " +
                $"(or KeyFile, KeySha256) and Role, or set Auth:Mode to '{AuthOptions.Open}' for a service only its own user can reach.");
        var repeated = keys.GroupBy(k => Convert.ToHexString(k.Item1)).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
            throw new InvalidOperationException($"Auth:Clients: {string.Join(" and ", repeated.Select(k => k.Item2.Name))} have the same key; a key must say who calls.");
        return new ApiKeyDirectory(keys, open: false);
    }

    /// <summary>The client whose key this is, or null.</summary>
    public PlatformClient? Find(string key)
    {
        var digest = Digest(key);
        PlatformClient? found = null;
        // Every entry is compared, so the time taken says nothing about which key came close.
        foreach (var (known, client) in _keys)
            if (CryptographicOperations.FixedTimeEquals(known, digest)) found = client;
        return found;
    }

    /// <summary>The key the service presents to the platform's other services, when configured.</summary>
    public static string? ServiceKey(AuthOptions options) =>
        options.ServiceKey is null && options.ServiceKeyFile is null ? null : ReadKey(options.ServiceKey, options.ServiceKeyFile, "Auth:ServiceKey");

    private static string ReadKey(string? key, string? file, string field)
    {
        if (file is not null)
        {
            if (!File.Exists(file)) throw new InvalidOperationException($"{field}File: '{file}' does not exist.");
            key = File.ReadAllText(file).Trim();
        }
        if (key is null || key.Length < AuthOptions.MinimumKeyLength || key.Any(char.IsWhiteSpace))
            throw new InvalidOperationException($"{field}: a key must be at least {AuthOptions.MinimumKeyLength} characters without spaces " +
                "(e.g. `openssl rand -hex 32`).");
        return key;
    }

    private static byte[] ParseDigest(string hex, string field)
    {
        try
        {
            var digest = Convert.FromHexString(hex);
            if (digest.Length == 32) return digest;
        }
        catch (FormatException) { }
        throw new InvalidOperationException($"{field}: not a SHA-256 in hex (64 characters; `printf %s KEY | sha256sum`).");
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
