using Grpc.Core;

namespace MentorKd.ServiceDefaults.Security;

/// <summary>
/// Where a client may have the platform write. The store is shared: runs, their owners and markers, training jobs, the
/// teacher ledger and registered datasets live under the platform's own prefixes, and a key a runner names for output
/// (a job's output_key, an evaluation's report_key, a soft-label store) must not overwrite them.
/// </summary>
public static class ClientWrites
{
    public static readonly IReadOnlyList<string> PlatformPrefixes = ["runs/", "unfinished-runs/", "trainer/", "teacher-ledger/", "datasets/"];

    /// <summary>PermissionDenied naming <paramref name="field"/> when a caller other than an admin names a key under a platform prefix.</summary>
    public static void RequireWritableBy(this PlatformClient caller, string key, string field)
    {
        if (caller.IsAdmin || PlatformPrefixes.FirstOrDefault(prefix => key.StartsWith(prefix, StringComparison.Ordinal)) is not { } reserved) return;
        throw new RpcException(new Status(StatusCode.PermissionDenied,
            $"{field}: '{key}' is under '{reserved}', where the platform keeps its own objects; only an admin may write there (use e.g. 'clients/{caller.Name}/…')."));
    }
}
