using MentorKd.Distillation.Teachers;
using MentorKd.ServiceDefaults.Security;
using Microsoft.Extensions.Logging;

namespace MentorKd.Embedded;

/// <summary>How the embedded platform is set up: one data folder for everything it stores, the teachers, and its ports.</summary>
public sealed record EmbeddedPlatformOptions
{
    /// <summary>Holds objects/ (the filesystem store), trainer/ (job workspaces) and the services' caches.</summary>
    public required string DataRoot { get; init; }
    /// <summary>"simulated" or "replay" (then <see cref="TeacherReplayFile"/>, JSONL of rationales).</summary>
    public string TeacherKind { get; init; } = "simulated";
    public double TeacherErrorRate { get; init; } = 0.15;
    public int TeacherSeed { get; init; } = 42;
    public string? TeacherReplayFile { get; init; }
    /// <summary>LLM teachers behind OpenAI-compatible APIs, by name (a run config's own <c>openai</c> teacher among them).</summary>
    public IReadOnlyDictionary<string, OpenAiTeacherOptions> Teachers { get; init; } = new Dictionary<string, OpenAiTeacherOptions>();
    public string Device { get; init; } = "cpu";
    /// <summary>Torch threads; 0 = the library's default.</summary>
    public int Threads { get; init; }
    /// <summary>Training jobs the trainer runs side by side, sharing the threads. On two cores a run's small student arms
    /// finish in about half the time two at a time on one thread each than one after another on two (measured, README).</summary>
    public int TrainerConcurrentJobs { get; init; } = 2;
    /// <summary>Each training job keeps its half of the threads even when it trains alone (Trainer:FixedThreadShare): a
    /// run's students come out bit for bit the same whichever arms train beside them, at the cost of idle cores.</summary>
    public bool TrainerFixedThreadShare { get; init; }
    /// <summary>Loopback port the services listen on (gRPC, HTTP/2); 0 = a free one.</summary>
    public int Port { get; init; }
    /// <summary>Loopback port of the mentor-server's OpenAI-compatible API (HTTP/1.1): null = not served, 0 = a free one.</summary>
    public int? OpenAiPort { get; init; }
    /// <summary>Folders a run config may name files and model folders under (<see cref="Distillation.Pipeline.RunLimits.DataRoots"/>);
    /// the whole filesystem by default: the embedded platform serves the user who runs it.</summary>
    public IReadOnlyList<string> DataRoots { get; init; } = ["/"];
    /// <summary>The key of the platform's own admin client, <see cref="EmbeddedPlatform.LocalClient"/>, which
    /// <see cref="EmbeddedPlatform.Channel"/> presents; null: a fresh random one (a platform only this process calls).</summary>
    public string? ApiKey { get; init; }
    /// <summary>Further clients with their keys and roles, as a deployment's Auth:Clients.</summary>
    public IReadOnlyDictionary<string, ClientCredential> Clients { get; init; } = new Dictionary<string, ClientCredential>();
    /// <summary>Further configuration of the services, as their appsettings.json would give it ("Augmentation:Limits:MaxEpochs", …).</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();
    /// <summary>Minimum level of the services' console logs (progress goes through the Runs API instead).</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Warning;
}
