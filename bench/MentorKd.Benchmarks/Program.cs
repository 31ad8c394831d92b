using MentorKd.Benchmarks;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Runtime;
using Spectre.Console;

// Usage: dotnet run --project bench/MentorKd.Benchmarks -c Release [-- --seconds 3 --threads 2]
//        dotnet run --project bench/MentorKd.Benchmarks -c Release -- teacher [--questions 400]
//        dotnet run --project bench/MentorKd.Benchmarks -c Release -- pretrained [--only SmolLM2-135M] [--seconds 3 --threads 2]
//        dotnet run --project bench/MentorKd.Benchmarks -c Release -- softlabels [--rounds 3]
//        dotnet run --project bench/MentorKd.Benchmarks -c Release -- load
//        dotnet run --project bench/MentorKd.Benchmarks -c Release -- soak [--runs 10]
//        dotnet run --project bench/MentorKd.Benchmarks -c Release -- compare [--rounds 3 --seconds 3 --threads 2 --only 10M --python /usr/bin/python3]
if (TeacherBenchmark.IsChild(args, out var child)) return await child();
if (args.FirstOrDefault() == ComparisonCell.Mode) return ComparisonCell.Run(args);
if (args.FirstOrDefault() == "teacher")
    return await TeacherBenchmark.RunAsync(args.SkipWhile(a => a != "--questions").Skip(1).Select(int.Parse).FirstOrDefault(400));

double seconds = args.SkipWhile(a => a != "--seconds").Skip(1).Select(double.Parse).FirstOrDefault(3.0);
int threads = args.SkipWhile(a => a != "--threads").Skip(1).Select(int.Parse).FirstOrDefault(0);
TorchRuntime.SetThreads(threads);
if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200; // keep the table readable in logs
if (args.FirstOrDefault() == "softlabels") return await SoftLabelBenchmark.RunAsync(args.SkipWhile(a => a != "--rounds").Skip(1).Select(int.Parse).FirstOrDefault(3));
if (args.FirstOrDefault() == "compare")
    return await ComparisonBenchmark.RunAsync(args.SkipWhile(a => a != "--rounds").Skip(1).Select(int.Parse).FirstOrDefault(3), seconds, threads == 0 ? 2 : threads,
        args.SkipWhile(a => a != "--python").Skip(1).FirstOrDefault(File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"),
        args.SkipWhile(a => a != "--only").Skip(1).Take(1).DefaultIfEmpty().SelectMany(only => only is null ? ComparisonCell.Shapes.Keys : [only]).ToList());
if (args.FirstOrDefault() == "load") return await LoadBenchmark.RunAsync();
if (args.FirstOrDefault() == "soak") return await LoadBenchmark.SoakAsync(args.SkipWhile(a => a != "--runs").Skip(1).Select(int.Parse).FirstOrDefault(10));
if (args.FirstOrDefault() == "pretrained") return PretrainedBenchmark.Run(seconds, args.SkipWhile(a => a != "--only").Skip(1).Take(1).ToList());

(string Name, GptConfig Config)[] sizes =
[
    ("1M (4×144, ctx 128)", GptConfig.Small(512, layers: 4, heads: 4, embedding: 144, contextLength: 128)),
    ("10M (6×384, ctx 256)", GptConfig.Small(512, layers: 6, heads: 6, embedding: 384, contextLength: 256)),
];

var results = new List<ThroughputResult>();
foreach (var (name, config) in sizes)
{
    AnsiConsole.MarkupLineInterpolated($"[grey]measuring {name}…[/]");
    results.Add(ThroughputBenchmark.Run(name, config, seconds));
}

var table = new Table().Title($"Throughput, tokens/s ({Environment.ProcessorCount} cores, {seconds:F0} s per cell, prompt 32 + 64 new tokens)");
foreach (var column in new[] { "model", "params", "train b16", "train b16 mixed bf16", "mixed/fp32", "gen b1", "gen b1 cache", "gen b16", "gen b16 cache", "cache ×, b1", "cache ×, b16", "bf16/fp32, b16 cache" })
    table.AddColumn(column);
foreach (var r in results)
    table.AddRow(r.Size, $"{r.Parameters / 1e6:F2}M", $"{r.TrainTokensPerSecond:N0}", $"{r.TrainMixedTokensPerSecond:N0}", $"{r.TrainMixedTokensPerSecond / r.TrainTokensPerSecond:F2}×", $"{r.Batch1NoCache:N0}", $"{r.Batch1Cache:N0}",
        $"{r.Batch16NoCache:N0}", $"{r.Batch16Cache:N0}", $"{r.Batch1Cache / r.Batch1NoCache:F2}×", $"{r.Batch16Cache / r.Batch16NoCache:F2}×",
        $"{r.Batch16CacheBf16 / r.Batch16Cache:F2}×");
AnsiConsole.Write(table);
return 0;
