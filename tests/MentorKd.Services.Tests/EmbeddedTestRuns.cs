using MentorKd.Distillation.Pipeline;
using MentorKd.Embedded;

namespace MentorKd.Services.Tests;

/// <summary>Tiny run configs and an embedded platform (all five services in one process, real gRPC over loopback).</summary>
internal static class EmbeddedTestRuns
{
    /// <summary>configs/mentor-kd.tiny.json: a run of about a minute in which every service takes part.</summary>
    public static RunConfig Tiny() => RunConfig.Load(Path.Combine(RepositoryRoot(), "configs", "mentor-kd.tiny.json"));

    public static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "MentorKd.Platform.sln"))) return folder.FullName;
        throw new InvalidOperationException("MentorKd.Platform.sln not found above the test folder.");
    }

    /// <summary>Coin-flip questions for the tiny run's task, as a client would send them.</summary>
    public static IEnumerable<Protos.V1.Question> NewQuestions(int count, int seed)
    {
        var task = new Distillation.Tasks.Synthetic.CoinFlipTask();
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => task.Generate(random, $"new-{i:D3}", 3))
            .Select(q => new Protos.V1.Question { Id = q.Id, Task = q.Task, Text = q.Text, Answer = q.Answer });
    }

    public static string NewDataRoot() => Path.Combine(Path.GetTempPath(), "mentorkd-embedded-tests", Guid.NewGuid().ToString("N"));

    /// <param name="openAiPort">The mentor-server's OpenAI-compatible API: null = not served, 0 = on a free port.</param>
    public static Task<EmbeddedPlatform> StartAsync(string dataRoot, RunConfig? config = null, int? openAiPort = null) =>
        EmbeddedPlatform.StartAsync(EmbeddedRunSetup.For(config ?? Tiny(), dataRoot) with { OpenAiPort = openAiPort });
}
