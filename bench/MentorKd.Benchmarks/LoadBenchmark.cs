using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Training;
using MentorKd.Embedded;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults.Security;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace MentorKd.Benchmarks;

/// <summary>
/// What the embedded platform survives on this machine's loopback (`make bench-load`): bursts of concurrent Generate
/// streams on the mentor-server (its bounded queue refusing what is beyond it), 20 runs submitted at once by 4 clients
/// (the per-client limit enforced), 100 WatchRun streams following them to the end — and the process's memory, threads
/// and open files before and after. `soak` runs small runs back to back and prints the same gauges after each.
/// </summary>
internal static class LoadBenchmark
{
    private const int Clients = 4;

    /// <summary>The tiny run made smaller still, so several finish in a minute or two on 2 cores.</summary>
    private static RunConfig Micro()
    {
        var tiny = RunConfig.Load(Path.Combine(RepositoryRoot(), "configs", "mentor-kd.tiny.json"));
        return tiny with
        {
            Name = "micro",
            Task = tiny.Task with { TrainQuestions = 160, DevQuestions = 20, TestQuestions = 20 },
            Teacher = tiny.Teacher with { AnnotatedQuestions = 80 },
            Mentor = tiny.Mentor with { Training = tiny.Mentor.Training with { Epochs = 2 } },
            Student = tiny.Student with { Training = tiny.Student.Training with { Epochs = 2 } },
        };
    }

    public static Task<int> RunAsync() => InScratchFolderAsync("mentorkd-bench-load", LoadAsync);

    public static Task<int> SoakAsync(int runs) => InScratchFolderAsync("mentorkd-bench-soak", dataRoot => SoakAsync(dataRoot, runs));

    /// <summary>Runs a benchmark on a fresh data folder and removes the folder once its platform has stopped.</summary>
    private static async Task<int> InScratchFolderAsync(string name, Func<string, Task<int>> benchmark)
    {
        var dataRoot = Path.Combine(Path.GetTempPath(), name, Guid.NewGuid().ToString("N"));
        try { return await benchmark(dataRoot); }
        finally { TryDelete(dataRoot); }
    }

    private static async Task<int> LoadAsync(string dataRoot)
    {
        var keys = Enumerable.Range(1, Clients).ToDictionary(i => $"team-{i}", _ => ApiKeys.New());
        await using var platform = await EmbeddedPlatform.StartAsync(EmbeddedRunSetup.For(Micro(), dataRoot) with
        {
            Clients = keys.ToDictionary(k => k.Key, k => new ClientCredential { Key = k.Value, Role = PlatformRoles.Runner }),
            Settings = new Dictionary<string, string?> { ["Augmentation:Limits:MaxConcurrentRunsPerClient"] = "1" },
        });
        var table = new Table().Title($"Load on the embedded platform ({Environment.ProcessorCount} cores, loopback)").AddColumns("what", "result");

        // The mentor-server holds a 1-layer model (random weights: only the serving path is measured).
        await LoadMentorAsync(platform);
        var mentor = new Protos.V1.MentorServer.MentorServerClient(platform.Channel);
        await GenerateBurstAsync(mentor, 4); // warm-up: the serving path, and one run (libraries loaded, caches filled)
        await RunSession.RunAsync(new Protos.V1.Runs.RunsClient(platform.Channel), Guid.NewGuid(), Micro(), _ => { });
        var baseline = Gauges.Read();
        table.AddRow("baseline (after one run)", baseline.ToString());

        foreach (int streams in new[] { 64, 512 })
        {
            var burst = await GenerateBurstAsync(mentor, streams);
            table.AddRow($"{streams} Generate streams at once (queue capacity 256)",
                $"{burst.Served} served, {burst.Refused} ResourceExhausted, {burst.Other} other; latency p50 {burst.P50:F2} s, p99 {burst.P99:F2} s; {burst.Wall:F1} s in all");
        }

        // 20 runs at once from 4 clients, one run under way each; 100 watchers on the accepted ones.
        var clock = Stopwatch.StartNew();
        var config = System.Text.Json.JsonSerializer.Serialize(Micro(), RunConfig.Json);
        var channels = keys.ToDictionary(k => k.Key, k => platform.ChannelFor(k.Value));
        var submissions = await Task.WhenAll(channels.SelectMany(c => Enumerable.Range(0, 5).Select(async _ =>
        {
            try { return (Client: c.Key, Run: await new Protos.V1.Runs.RunsClient(c.Value).StartRunAsync(new StartRunRequest { ConfigJson = config }), Status: StatusCode.OK); }
            catch (RpcException e) { return (Client: c.Key, Run: (Run?)null, Status: e.StatusCode); }
        })));
        var accepted = submissions.Where(s => s.Run is not null).ToList();
        table.AddRow("20 runs submitted at once by 4 clients (limit 1 each)",
            $"{accepted.Count} accepted ({string.Join(", ", accepted.GroupBy(s => s.Client).Select(g => $"{g.Key} {g.Count()}"))}), " +
            $"{submissions.Count(s => s.Status == StatusCode.ResourceExhausted)} ResourceExhausted, {submissions.Count(s => s.Status is not (StatusCode.OK or StatusCode.ResourceExhausted))} other");

        var reader = new Protos.V1.Runs.RunsClient(platform.Channel);
        if (accepted.Count == 0) throw new InvalidOperationException("no run was accepted: " + string.Join(", ", submissions.Select(s => s.Status).Distinct()));
        var watchers = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => WatchAsync(reader, accepted[i % accepted.Count].Run!.RunId)));
        table.AddRow("100 WatchRun streams on those runs",
            $"{watchers.Count(w => w.Ended == RunStatus.Completed)} saw their run complete, {watchers.Count(w => w.Ended is null)} ended without it; " +
            $"first event p50 {Percentile(watchers.Select(w => w.FirstEvent).ToList(), 0.5) * 1000:F0} ms, p99 {Percentile(watchers.Select(w => w.FirstEvent).ToList(), 0.99) * 1000:F0} ms; " +
            $"{watchers.Sum(w => w.Events):N0} events in {clock.Elapsed.TotalSeconds:F0} s");
        var second = await new Protos.V1.Runs.RunsClient(channels["team-1"]).StartRunAsync(new StartRunRequest { ConfigJson = config });
        table.AddRow("a client's next run once its first ended", $"accepted ({second.RunId[..8]}…), then cancelled");
        await new Protos.V1.Runs.RunsClient(channels["team-1"]).CancelRunAsync(new CancelRunRequest { RunId = second.RunId });
        await WatchAsync(reader, second.RunId);

        foreach (var channel in channels.Values) channel.Dispose();
        var after = Gauges.Read();
        table.AddRow("after (GC, 2 s idle)", after.ToString());
        table.AddRow("after / baseline", $"RSS {after.ResidentMb / baseline.ResidentMb:F2}× ({after.TrimmedMb / baseline.TrimmedMb:F2}× trimmed), managed heap {after.ManagedMb / baseline.ManagedMb:F2}×, " +
            $"threads {after.Threads - baseline.Threads:+0;-0;0}, open files {after.OpenFiles - baseline.OpenFiles:+0;-0;0}");
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary><paramref name="runs"/> small runs one after the other in one platform, with the gauges after each.</summary>
    private static async Task<int> SoakAsync(string dataRoot, int runs)
    {
        await using var platform = await EmbeddedPlatform.StartAsync(EmbeddedRunSetup.For(Micro(), dataRoot));
        var client = new Protos.V1.Runs.RunsClient(platform.Channel);
        var table = new Table().Title($"Soak: {runs} runs back to back in one embedded platform").AddColumns("after run", "status", "seconds", "RSS MB", "RSS trimmed MB", "managed MB", "threads", "open files");
        var gauges = new List<Gauges>();
        var firstTargets = new Dictionary<string, int>();
        for (int i = 1; i <= runs; i++)
        {
            var clock = Stopwatch.StartNew();
            var run = await RunSession.RunAsync(client, Guid.NewGuid(), Micro(), _ => { });
            var now = Gauges.Read();
            gauges.Add(now);
            if (i == 1) firstTargets = OpenFileTargets().GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());
            table.AddRow($"{i}", run.Status.ToString(), $"{clock.Elapsed.TotalSeconds:F0}", $"{now.ResidentMb:F0}", $"{now.TrimmedMb:F0}", $"{now.ManagedMb:F0}", $"{now.Threads}", $"{now.OpenFiles}");
        }
        AnsiConsole.Write(table);
        // What stayed open that was not after run 1, by target (sockets and pipes by kind), so a leak names itself.
        var opened = OpenFileTargets().GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());
        var grown = opened.Select(o => (Target: o.Key, Extra: o.Value - firstTargets.GetValueOrDefault(o.Key))).Where(o => o.Extra > 0).OrderByDescending(o => o.Extra).Take(8).ToList();
        if (grown.Count > 0) Console.WriteLine("open since run 1: " + string.Join(", ", grown.Select(g => $"{g.Target} +{g.Extra}")));
        // Runs 2..n against run 1 (the first run loads libraries and warms caches).
        var rest = gauges.Skip(1).ToList();
        Console.WriteLine($"RSS after run 1 {gauges[0].ResidentMb:F0} MB ({gauges[0].TrimmedMb:F0} trimmed), runs 2–{runs}: {rest.Min(g => g.ResidentMb):F0}–{rest.Max(g => g.ResidentMb):F0} MB " +
            $"({rest.Min(g => g.TrimmedMb):F0}–{rest.Max(g => g.TrimmedMb):F0} trimmed); " +
            $"threads {gauges[0].Threads} → {rest.Min(g => g.Threads)}–{rest.Max(g => g.Threads)}; open files {gauges[0].OpenFiles} → {rest.Min(g => g.OpenFiles)}–{rest.Max(g => g.OpenFiles)}");
        return 0;
    }

    private static async Task LoadMentorAsync(EmbeddedPlatform platform)
    {
        var task = new CoinFlipTask();
        var random = new Random(1);
        var questions = Enumerable.Range(0, 50).Select(i => task.Generate(random, $"q{i}", 2)).ToList();
        var tokenizer = WordTokenizer.FromCorpus(questions.Select(CotFormat.Prompt).Append(" The coin starts heads up. --> yes no"));
        using var model = new GptLanguageModel(GptConfig.Small(tokenizer.VocabSize, 1, 2, 32, 128, eosTokenId: tokenizer.EndOfTextId));
        var folder = Path.Combine(Path.GetTempPath(), "mentorkd-bench-load", Guid.NewGuid().ToString("N"));
        GptCheckpoint.Save(model, tokenizer, folder);
        await platform.Services.GetRequiredService<IObjectStore>().UploadAsync(folder, "bench/load-mentor/");
        TryDelete(folder);
        await new Protos.V1.MentorServer.MentorServerClient(platform.Channel).LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = "bench/load-mentor/" });
    }

    private sealed record Burst(int Served, int Refused, int Other, double P50, double P99, double Wall);

    private static async Task<Burst> GenerateBurstAsync(Protos.V1.MentorServer.MentorServerClient mentor, int streams)
    {
        var task = new CoinFlipTask();
        var clock = Stopwatch.StartNew();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, streams).Select(async i =>
        {
            var random = new Random(i);
            var request = new GenerateRequest { SamplesPerQuestion = 1, Sampling = new SamplingParameters { Temperature = 0.7, MaxNewTokens = 24 } };
            request.Questions.Add(Enumerable.Range(0, 2).Select(q => task.Generate(random, $"s{i}-q{q}", 2).ToProto()));
            var started = Stopwatch.GetTimestamp();
            try
            {
                using var call = mentor.Generate(request);
                await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
                return (Status: StatusCode.OK, Seconds: Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
            catch (RpcException e) { return (Status: e.StatusCode, Seconds: 0.0); }
        }));
        var served = outcomes.Where(o => o.Status == StatusCode.OK).Select(o => o.Seconds).ToList();
        return new Burst(served.Count, outcomes.Count(o => o.Status == StatusCode.ResourceExhausted), outcomes.Count(o => o.Status is not (StatusCode.OK or StatusCode.ResourceExhausted)),
            Percentile(served, 0.5), Percentile(served, 0.99), clock.Elapsed.TotalSeconds);
    }

    private static async Task<(RunStatus? Ended, double FirstEvent, int Events)> WatchAsync(Protos.V1.Runs.RunsClient runs, string runId)
    {
        var started = Stopwatch.GetTimestamp();
        double first = -1;
        int events = 0;
        using var call = runs.WatchRun(new WatchRunRequest { RunId = runId });
        await foreach (var e in call.ResponseStream.ReadAllAsync())
        {
            if (first < 0) first = Stopwatch.GetElapsedTime(started).TotalSeconds;
            events++;
            if (e.Kind == RunEventKind.RunEnded) return (e.Status, first, events);
        }
        return (null, first, events);
    }

    private static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }

    /// <summary>The process's resident memory, managed heap, threads and open file descriptors, after a full collection and 2 s idle.</summary>
    /// <remarks><see cref="TrimmedMb"/>: the RSS once glibc has handed its free lists back to the system (malloc_trim), i.e.
    /// what is still allocated rather than kept by the allocator for reuse.</remarks>
    private sealed record Gauges(double ResidentMb, double TrimmedMb, double ManagedMb, int Threads, int OpenFiles)
    {
        public static Gauges Read()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            Thread.Sleep(2000);
            using var self = Process.GetCurrentProcess();
            self.Refresh();
            double resident = self.WorkingSet64 / 1e6;
            if (OperatingSystem.IsLinux()) MallocTrim(0);
            self.Refresh();
            int files = Directory.Exists("/proc/self/fd") ? Directory.GetFiles("/proc/self/fd").Length : -1;
            return new Gauges(resident, self.WorkingSet64 / 1e6, GC.GetTotalMemory(false) / 1e6, self.Threads.Count, files);
        }

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
        private static extern int MallocTrim(nuint pad);

        public override string ToString() => $"RSS {ResidentMb:F0} MB ({TrimmedMb:F0} MB trimmed), managed heap {ManagedMb:F0} MB, {Threads} threads, {OpenFiles} open files";
    }

    /// <summary>What this process's descriptors point at: a path, or the kind ("socket", "pipe", "anon_inode:…").</summary>
    private static IEnumerable<string> OpenFileTargets()
    {
        if (!Directory.Exists("/proc/self/fd")) yield break;
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            string? target;
            try { target = new FileInfo(fd).LinkTarget; }
            catch (IOException) { continue; }
            if (target is null) continue;
            yield return target.StartsWith("socket:") ? "socket" : target.StartsWith("pipe:") ? "pipe" : target;
        }
    }

    /// <summary>The benchmark's scratch data goes when it is done (the platform's files may still be held open: best effort).</summary>
    private static void TryDelete(string folder)
    {
        try { Directory.Delete(folder, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "MentorKd.Platform.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("run from the repository (MentorKd.Platform.sln not found above the binaries).");
    }
}
