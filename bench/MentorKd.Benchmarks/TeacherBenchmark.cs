using System.Diagnostics;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Teachers;
using MentorKd.Distillation.Training;
using MentorKd.Embedded;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using Question = MentorKd.Distillation.Data.Question;
using MentorKd.Storage;
using MentorKd.TeacherGateway.OpenAi;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace MentorKd.Benchmarks;

/// <summary>
/// The teacher-gateway's LLM path, measured (<c>make bench-teacher</c>): annotation calls per second through the gateway
/// (gRPC Annotate → OpenAI client → resilience pipeline → ledger) against a local endpoint that answers at once and
/// against the mentor-server's OpenAI API serving a small model, uncached and again from the ledger; the share of calls
/// retried when the endpoint injects faults; the bytes the ledger stores per call; and, with the gateway in a child
/// process killed (SIGKILL) mid-annotation and restarted, how many calls already recorded were paid for again.
/// </summary>
internal static class TeacherBenchmark
{
    private const string ChildMode = "teacher-child";

    public static async Task<int> RunAsync(int questions)
    {
        var root = Path.Combine(Path.GetTempPath(), "mentorkd-bench-teacher", Guid.NewGuid().ToString("N"));
        await using var instant = await LocalOpenAiEndpoint.StartAsync();
        await using var faulty = await LocalOpenAiEndpoint.StartAsync(rateLimited: 0.08, serverErrors: 0.04, malformed: 0.03, seed: 5);
        var platformOptions = new EmbeddedPlatformOptions
        {
            DataRoot = Path.Combine(root, "platform"), OpenAiPort = 0, Threads = 1,
            Teachers = new Dictionary<string, OpenAiTeacherOptions>
            {
                ["instant"] = Teacher(instant.BaseUrl),
                ["faulty"] = Teacher(faulty.BaseUrl),
            },
        };
        var rows = new List<string[]>();
        await using (var platform = await EmbeddedPlatform.StartAsync(platformOptions))
        {
            var store = platform.Services.GetRequiredService<IObjectStore>();
            var gateway = new Protos.V1.TeacherGateway.TeacherGatewayClient(platform.Channel);

            AnsiConsole.MarkupLine("[grey]instant endpoint: uncached, then from the ledger…[/]");
            var asked = Questions(questions, seed: 1);
            var uncached = await TimeAsync(gateway, asked, "instant");
            var cached = await TimeAsync(gateway, asked, "instant");
            rows.Add(["gateway → instant endpoint", $"{questions / uncached.TotalSeconds:N0}", $"{questions / cached.TotalSeconds:N0}", $"{uncached / cached:F1}×"]);

            AnsiConsole.MarkupLine("[grey]mentor-server's OpenAI API (2 layers × 64, 32 new tokens): uncached, then from the ledger…[/]");
            var key = await PutSmallModelAsync(store, root);
            await new Protos.V1.MentorServer.MentorServerClient(platform.Channel).LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = key });
            // The gateway calls the mentor-server over real HTTP on loopback, as it would any OpenAI-compatible server.
            var served = Teacher(new Uri(platform.OpenAiAddress!, "v1")) with { Model = key, Api = "completions", Prompt = "mentorkd-cot", MaxTokens = 32 };
            await using (var second = await EmbeddedPlatform.StartAsync(new EmbeddedPlatformOptions
            {
                DataRoot = Path.Combine(root, "client"), Threads = 1, Teachers = new Dictionary<string, OpenAiTeacherOptions> { ["served"] = served },
            }))
            {
                var client = new Protos.V1.TeacherGateway.TeacherGatewayClient(second.Channel);
                var modelQuestions = Questions(Math.Max(20, questions / 4), seed: 2);
                var modelUncached = await TimeAsync(client, modelQuestions, "served");
                var modelCached = await TimeAsync(client, modelQuestions, "served");
                rows.Add(["gateway → mentor-server OpenAI API", $"{modelQuestions.Count / modelUncached.TotalSeconds:N0}",
                    $"{modelQuestions.Count / modelCached.TotalSeconds:N0}", $"{modelUncached / modelCached:F1}×"]);
            }

            AnsiConsole.MarkupLine("[grey]faulty endpoint (8% 429, 4% 500, 3% malformed)…[/]");
            var faultQuestions = Questions(questions, seed: 3);
            var (_, failures) = await AnnotateAsync(gateway, faultQuestions, "faulty");
            var usage = (await gateway.GetUsageAsync(new GetUsageRequest())).Teachers.Single(t => t.Teacher.StartsWith("openai:faulty"));
            var ledger = await store.ListAsync(TeacherCallLedger.Prefix).ToListAsync();
            AnsiConsole.Write(Table("Teacher calls per second through the gateway", ["path", "uncached calls/s", "cached calls/s", "cached / uncached"], rows));
            AnsiConsole.Write(Table("Faults and storage", ["measure", "value"],
            [
                ["calls under faults", $"{faultQuestions.Count} ({faulty.Requests} HTTP requests reached the endpoint)"],
                ["share of calls retried", $"{(usage.Attempts - usage.Requests) / (double)usage.Requests:P1} ({usage.Attempts - usage.Requests} retries, {usage.Attempts} attempts)"],
                ["calls failed after every retry", $"{failures}"],
                ["ledger bytes per call", $"{ledger.Average(o => o.Size):N0} (mean of {ledger.Count} calls)"],
            ]));
        }

        AnsiConsole.MarkupLine("[grey]kill -9 mid-annotation…[/]");
        var crash = await KillMidAnnotationAsync(Path.Combine(root, "crash"), Questions(questions, seed: 4));
        AnsiConsole.Write(Table("Gateway killed (SIGKILL) mid-annotation, then restarted on the same store", ["measure", "value"],
        [
            ["calls answered before the kill", $"{crash.AnsweredBeforeKill}"],
            ["… recorded in the ledger", $"{crash.Recorded}"],
            ["… lost in flight (answered, not yet recorded)", $"{crash.AnsweredBeforeKill - crash.Recorded}"],
            ["calls asked after the restart", $"{crash.AskedAfterRestart} (of {questions})"],
            ["recorded calls paid for again", $"{crash.RecordedPaidAgain}"],
        ]));
        Directory.Delete(root, recursive: true);
        return crash.RecordedPaidAgain == 0 ? 0 : 1;
    }

    /// <summary>The child process: an embedded gateway whose teacher is the parent's endpoint, annotating the questions file.</summary>
    public static async Task<int> ChildAsync(string dataRoot, Uri baseUrl, string questionsFile)
    {
        await using var platform = await EmbeddedPlatform.StartAsync(new EmbeddedPlatformOptions
        {
            DataRoot = dataRoot, Threads = 1, Teachers = new Dictionary<string, OpenAiTeacherOptions> { ["instant"] = Teacher(baseUrl) },
        });
        await AnnotateAsync(new Protos.V1.TeacherGateway.TeacherGatewayClient(platform.Channel), JsonLines.Read<Question>(questionsFile), "instant");
        return 0;
    }

    private sealed record CrashOutcome(int AnsweredBeforeKill, int Recorded, int AskedAfterRestart, int RecordedPaidAgain);

    private static async Task<CrashOutcome> KillMidAnnotationAsync(string root, IReadOnlyList<Question> questions)
    {
        Directory.CreateDirectory(root);
        var file = Path.Combine(root, "questions.jsonl");
        JsonLines.Write(file, questions);
        await using var endpoint = await LocalOpenAiEndpoint.StartAsync();
        var data = Path.Combine(root, "gateway");

        using (var child = StartChild(data, endpoint.BaseUrl, file))
        {
            while (endpoint.Answered.Count < questions.Count / 3 && !child.HasExited) await Task.Delay(5);
            child.Kill(); // SIGKILL: no shutdown, no flushing
            await child.WaitForExitAsync();
        }
        var answered = endpoint.Answered.ToList();
        var recorded = LedgerPrompts(Path.Combine(data, "objects"));

        using (var child = StartChild(data, endpoint.BaseUrl, file))
        {
            await child.WaitForExitAsync();
            if (child.ExitCode != 0) throw new InvalidOperationException($"the restarted gateway exited with {child.ExitCode}.");
        }
        var afterRestart = endpoint.Answered.Skip(answered.Count).ToList();
        return new CrashOutcome(answered.Count, recorded.Count, afterRestart.Count, afterRestart.Count(recorded.Contains));
    }

    /// <summary>This benchmark again, in child mode (through <c>dotnet</c> when that is how it was started).</summary>
    private static Process StartChild(string data, Uri baseUrl, string questionsFile)
    {
        var host = Environment.ProcessPath!;
        string[] arguments = [ChildMode, data, baseUrl.ToString(), questionsFile];
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") arguments = [typeof(TeacherBenchmark).Assembly.Location, .. arguments];
        return Process.Start(new ProcessStartInfo(host, arguments) { UseShellExecute = false })
            ?? throw new InvalidOperationException("could not start the gateway child process.");
    }

    public static bool IsChild(string[] args, out Func<Task<int>> run)
    {
        run = () => ChildAsync(args[1], new Uri(args[2]), args[3]);
        return args.Length == 4 && args[0] == ChildMode;
    }

    /// <summary>The prompts of the calls the ledger holds (one JSON object per call, under teacher-ledger/).</summary>
    private static HashSet<string> LedgerPrompts(string objects)
    {
        var folder = Path.Combine(objects, TeacherCallLedger.Prefix.TrimEnd('/'));
        if (!Directory.Exists(folder)) return [];
        return Directory.EnumerateFiles(folder, "*.json", SearchOption.AllDirectories)
            .Select(f => JsonDocument.Parse(File.ReadAllText(f)).RootElement.GetProperty("call").GetProperty("prompt").GetString()!)
            .ToHashSet();
    }

    private static OpenAiTeacherOptions Teacher(Uri baseUrl) => new()
    {
        BaseUrl = baseUrl.ToString(), Model = "local", Prompt = "zero-shot-cot", MaxConcurrentCalls = 4, Temperature = 0, MaxTokens = 64,
    };

    private static List<Question> Questions(int count, int seed)
    {
        var task = new CoinFlipTask();
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => task.Generate(random, $"b{seed}-{i:D5}", 4)).ToList();
    }

    private static async Task<TimeSpan> TimeAsync(Protos.V1.TeacherGateway.TeacherGatewayClient gateway, IReadOnlyList<Question> questions, string teacher)
    {
        var clock = Stopwatch.StartNew();
        var (rationales, failures) = await AnnotateAsync(gateway, questions, teacher);
        if (rationales != questions.Count || failures != 0) throw new InvalidOperationException($"{teacher}: {rationales} rationales, {failures} failures.");
        return clock.Elapsed;
    }

    private static async Task<(int Rationales, int Failures)> AnnotateAsync(Protos.V1.TeacherGateway.TeacherGatewayClient gateway, IReadOnlyList<Question> questions, string teacher)
    {
        var request = new AnnotateRequest { RationalesPerQuestion = 1, Teacher = teacher };
        request.Questions.AddRange(questions.Select(q => q.ToProto()));
        int rationales = 0, failures = 0;
        using var call = gateway.Annotate(request);
        await foreach (var response in call.ResponseStream.ReadAllAsync())
            if (response.Failure is not null) failures++;
            else rationales++;
        return (rationales, failures);
    }

    /// <summary>A small random-initialised model the mentor-server serves (its speed, not its answers, is measured).</summary>
    private static async Task<string> PutSmallModelAsync(IObjectStore store, string root)
    {
        var prompts = Questions(50, seed: 2).Select(CotFormat.Prompt).Append(" The coin starts heads up. --> yes no");
        var tokenizer = WordTokenizer.FromCorpus(prompts);
        using var model = new GptLanguageModel(GptConfig.Small(tokenizer.VocabSize, layers: 2, heads: 2, embedding: 64, contextLength: 128, eosTokenId: tokenizer.EndOfTextId));
        var local = Path.Combine(root, "small-model");
        GptCheckpoint.Save(model, tokenizer, local);
        const string key = "models/bench-small/";
        await store.UploadAsync(local, key);
        return key;
    }

    private static Table Table(string title, string[] columns, IEnumerable<string[]> rows)
    {
        var table = new Table().Title(title);
        foreach (var column in columns) table.AddColumn(column);
        foreach (var row in rows) table.AddRow(row.Select(Markup.Escape).ToArray());
        return table;
    }
}
