namespace MentorKd.Distillation.Tests;

/// <summary>Finds ../shared/data/mentor-kd beside the repository (the data is read from there, never copied).</summary>
internal static class SharedData
{
    public static string MentorKd
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (!System.IO.File.Exists(Path.Combine(dir.FullName, "MentorKd.Platform.sln"))) continue;
                var shared = Path.Combine(dir.FullName, "..", "shared", "data", "mentor-kd");
                if (Directory.Exists(shared)) return Path.GetFullPath(shared);
                throw new DirectoryNotFoundException($"the shared Mentor-KD data is expected at {Path.GetFullPath(shared)}.");
            }
            throw new DirectoryNotFoundException("the repository root (MentorKd.Platform.sln) was not found above the test binaries.");
        }
    }

    public static string File(string name) => Path.Combine(MentorKd, name);
}
