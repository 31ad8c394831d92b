namespace MentorKd.ServiceDefaults.Security;

/// <summary>
/// What a client may do. Each role includes the ones before it: a <c>reader</c> gets, lists, watches and reads reports
/// and usage; a <c>runner</c> also starts and cancels its own runs and jobs, adds questions, generates and asks for soft
/// labels; an <c>admin</c> also loads and unloads checkpoints, registers datasets and cancels anyone's run. The names are
/// also the authorization policies the services' RPCs name.
/// </summary>
public static class PlatformRoles
{
    public const string Reader = "reader";
    public const string Runner = "runner";
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [Reader, Runner, Admin];

    /// <summary>The roles that satisfy <paramref name="role"/>'s policy: itself and every role above it.</summary>
    public static IReadOnlyList<string> AtLeast(string role) => All.Skip(Rank(role)).ToList();

    public static int Rank(string role)
    {
        int rank = All.ToList().IndexOf(role);
        return rank >= 0 ? rank : throw new ArgumentException($"'{role}' is not a role ({string.Join(", ", All)}).", nameof(role));
    }
}
