namespace MentorKd.Modeling.Checkpoints;

/// <summary>
/// Model folders are written whole or not at all: the files go to a staging folder beside the destination, which is
/// then swapped in, so a reader (or a process restarted mid-save) never sees half a checkpoint.
/// </summary>
public static class ModelFolder
{
    /// <summary>Runs <paramref name="write"/> on an empty staging folder, then puts it in place of <paramref name="directory"/>.</summary>
    public static void WriteAtomically(string directory, Action<string> write)
    {
        var full = Path.GetFullPath(directory);
        var staging = full.TrimEnd('/') + $".saving-{Guid.NewGuid():N}";
        Directory.CreateDirectory(staging);
        try
        {
            write(staging);
            SwapIntoPlace(staging, full);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    private static void SwapIntoPlace(string staging, string destination)
    {
        RecoverInterruptedSwap(destination);
        if (!Directory.Exists(destination))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            Directory.Move(staging, destination);
            return;
        }
        var old = destination.TrimEnd('/') + $".old-{Guid.NewGuid():N}";
        Directory.Move(destination, old);
        try
        {
            Directory.Move(staging, destination);
        }
        catch
        {
            Directory.Move(old, destination); // put the previous checkpoint back
            throw;
        }
        Directory.Delete(old, recursive: true);
    }

    /// <summary>
    /// A process killed between the two renames of a swap leaves only "{folder}.old-*": that is the last complete
    /// checkpoint, so it is moved back. Called before reading or replacing a folder.
    /// </summary>
    public static void RecoverInterruptedSwap(string directory)
    {
        var full = Path.GetFullPath(directory).TrimEnd('/');
        var parent = Path.GetDirectoryName(full);
        if (Directory.Exists(full) || parent is null || !Directory.Exists(parent)) return;
        var leftovers = Directory.GetDirectories(parent, Path.GetFileName(full) + ".old-*");
        if (leftovers.Length == 1) Directory.Move(leftovers[0], full);
    }
}
