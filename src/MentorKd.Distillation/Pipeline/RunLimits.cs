namespace MentorKd.Distillation.Pipeline;

/// <summary>
/// What one run may ask of a platform: the operator's limits (the augmentation service's "Augmentation:Limits"), checked
/// with the rest of the config when a run is submitted, so a run that could never finish — or would hold the machine for
/// good — is refused at once, naming the field and the limit.
/// </summary>
public sealed record RunLimits
{
    public int MaxNameLength { get; init; } = 100;
    /// <summary>Questions a run generates or reads (train, dev and test together) and annotates.</summary>
    public int MaxQuestions { get; init; } = 100_000;
    public int MaxRationalesPerQuestion { get; init; } = 16;
    public int MaxSamplesPerQuestion { get; init; } = 32;
    public int MaxEpochs { get; init; } = 1_000;
    /// <summary>Optimiser steps one training job may take at most (epochs × batches, with every rationale it could get).</summary>
    public long MaxTrainingSteps { get; init; } = 10_000_000;
    /// <summary>Parameters of a from-scratch model (blocks and position table; the vocabulary is not known at submission).</summary>
    public long MaxModelParameters { get; init; } = 2_000_000_000;
    public int MaxNewTokens { get; init; } = 4_096;
    public int MaxFddRounds { get; init; } = 50;
    /// <summary>Size of a JSONL object a client names by key (a dataset it registers, questions it adds to a run): it is read
    /// whole, so it is checked before a byte is.</summary>
    public long MaxDatasetBytes { get; init; } = 256L << 20;
    /// <summary>Runs one client may have under way at once (started, or retraining on added questions); one more is
    /// refused with ResourceExhausted until one ends.</summary>
    public int MaxConcurrentRunsPerClient { get; init; } = 8;
    /// <summary>Folders on the host that runs the run under which a config may name files and model folders (task files,
    /// the replay teacher's file, pretrained folders): nothing else on that host is read. Null: anywhere (a platform a user
    /// runs for themself: <c>mentorkd run</c>); empty: nowhere (data by object-store key only).</summary>
    public string[]? DataRoots { get; init; }

    /// <summary>Whether reading <paramref name="path"/> stays under one of <paramref name="roots"/> (null: anywhere), symbolic
    /// links followed on both sides (a link under a root that leads out of it is out).</summary>
    public static bool IsUnder(string path, IReadOnlyList<string>? roots)
    {
        if (roots is null) return true;
        var real = RealPath(path).TrimEnd('/') + "/";
        return roots.Where(root => root.Length > 0).Any(root => real.StartsWith(RealPath(root).TrimEnd('/') + "/", StringComparison.Ordinal));
    }

    /// <summary>The absolute path with every symbolic link along it resolved, as realpath(3) gives it (what does not exist
    /// is kept as written).</summary>
    public static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        for (int links = 0; links < 40; links++)
        {
            var parts = full.Split('/', StringSplitOptions.RemoveEmptyEntries);
            string walked = "/", resolved = full;
            for (int i = 0; i < parts.Length; i++)
            {
                var next = Path.Combine(walked, parts[i]);
                if (new FileInfo(next).LinkTarget is { } target)
                {
                    resolved = Path.GetFullPath(Path.Combine([Path.GetFullPath(target, walked), .. parts[(i + 1)..]]));
                    break;
                }
                walked = next;
            }
            if (resolved == full) return full;
            full = resolved;
        }
        throw new IOException($"{path}: too many levels of symbolic links.");
    }

    public static readonly RunLimits Default = new();
}
