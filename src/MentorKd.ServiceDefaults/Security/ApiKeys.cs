using System.Security.Cryptography;

namespace MentorKd.ServiceDefaults.Security;

/// <summary>Fresh keys for a platform that makes its own (the embedded platform, benchmarks): 32 random bytes in hex.</summary>
public static class ApiKeys
{
    public static string New() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
}
