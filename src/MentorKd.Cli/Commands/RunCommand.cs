using System.CommandLine;
using System.Reflection;
using MentorKd.Distillation.Pipeline;
using RunReport = MentorKd.Protos.V1.RunReport;
using Spectre.Console;

namespace MentorKd.Cli.Commands;

/// <summary>
/// <c>mentorkd run</c>: a whole Mentor-KD run from a config file (or the default one built into the program, kept in
/// the repository as configs/mentor-kd.default.json), through the five services hosted in this process. Run it again
/// with the same --out and it continues where it stopped.
/// </summary>
internal static class RunCommand
{
    public const string DefaultConfigResource = "MentorKd.Cli.mentor-kd.default.json";

    public static Command Create()
    {
        var configPath = new Option<string?>("--config") { Description = "Run config (JSON). Default: the built-in configs/mentor-kd.default.json." };
        var output = new Option<string?>("--out") { Description = "Run folder (default: runs/<config name>)." };
        var fresh = new Option<bool>("--fresh") { Description = "Delete the run folder first instead of continuing a previous run." };
        var questions = new Option<string?>("--questions") { Description = "JSONL of new training questions, added once the run has completed: a retraining round." };
        var command = new Command("run", "Run Mentor-KD (and FDD rounds, by the config's method) end to end through the five services in this process and print the comparison.") { configPath, output, fresh, questions, RuntimeOptions.FixedThreadShare };
        command.SetAction(result => RuntimeOptions.Guarded(() =>
        {
            var config = result.GetValue(configPath) is { } path ? RunConfig.Load(path) : DefaultConfig();
            RunConfigValidator.Validate(config); // fail before any work, naming the field
            var folder = Path.GetFullPath(result.GetValue(output) ?? Path.Combine("runs", config.Name));
            if (result.GetValue(fresh) && Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            var newQuestions = result.GetValue(questions) is { } file ? Distillation.Data.JsonLines.Read<Distillation.Data.Question>(file) : null;
            AnsiConsole.MarkupLineInterpolated($"[bold]{config.Method} run[/] '{config.Name}' → {folder} (through the five services, embedded)");

            var clock = System.Diagnostics.Stopwatch.StartNew();
            Func<IPipelineObserver, (RunResults Results, RunReport Report)> run = observer => ServiceRun.RunAsync(config, folder, observer, newQuestions,
                result.GetValue(RuntimeOptions.FixedThreadShare)).GetAwaiter().GetResult();
            var (results, report) = Console.IsOutputRedirected
                ? run(new LineProgressObserver())
                : AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .Start(context => run(new SpectreProgressObserver(context)));
            ResultsTable.Print(results);
            FddRoundsTable.Print(report);
            // The whole command: the run and, for FDD, its rounds (the report's own time ends with the first report).
            AnsiConsole.MarkupLineInterpolated($"Total time: {clock.Elapsed.TotalMinutes:F1} min");
            AnsiConsole.MarkupLineInterpolated($"Report: {Path.Combine(folder, "report", "report.md")}");
            if (report.FddRounds.Count > 0) AnsiConsole.MarkupLineInterpolated($"FDD rounds and charts: {Path.Combine(folder, "report", "rounds.md")}");
            return 0;
        }));
        return command;
    }

    public static RunConfig DefaultConfig()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(DefaultConfigResource)
            ?? throw new InvalidOperationException("the default run config is missing from the build.");
        using var reader = new StreamReader(stream);
        return RunConfig.Parse(reader.ReadToEnd(), Environment.CurrentDirectory);
    }
}
