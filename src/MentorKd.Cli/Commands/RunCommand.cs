using System.CommandLine;
using System.Reflection;
using MentorKd.Distillation.Pipeline;
using Spectre.Console;

namespace MentorKd.Cli.Commands;

/// <summary>
/// <c>mentorkd run</c>: a whole Mentor-KD pipeline in this process, from a config file (or the default one built
/// into the program, kept in the repository as configs/mentor-kd.default.json). Run it again with the same
/// --out and it continues where it stopped.
/// </summary>
internal static class RunCommand
{
    public const string DefaultConfigResource = "MentorKd.Cli.mentor-kd.default.json";

    public static Command Create()
    {
        var configPath = new Option<string?>("--config") { Description = "Run config (JSON). Default: the built-in configs/mentor-kd.default.json." };
        var output = new Option<string?>("--out") { Description = "Run folder (default: runs/<config name>)." };
        var fresh = new Option<bool>("--fresh") { Description = "Delete the run folder first instead of continuing a previous run." };
        var command = new Command("run", "Run a Mentor-KD pipeline end to end and print the comparison.") { configPath, output, fresh };
        command.SetAction(result => RuntimeOptions.Guarded(() =>
        {
            var config = result.GetValue(configPath) is { } path ? RunConfig.Load(path) : DefaultConfig();
            RunConfigValidator.Validate(config); // fail before any work, naming the field
            var folder = new RunFolder(result.GetValue(output) ?? Path.Combine("runs", config.Name));
            if (result.GetValue(fresh) && Directory.Exists(folder.Root)) Directory.Delete(folder.Root, recursive: true);
            AnsiConsole.MarkupLineInterpolated($"[bold]Mentor-KD run[/] '{config.Name}' → {folder.Root}");

            RunResults results;
            if (Console.IsOutputRedirected)
            {
                results = new MentorKdPipeline(config, folder, new LineProgressObserver()).RunAsync().GetAwaiter().GetResult();
            }
            else
            {
                results = AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .Start(context => new MentorKdPipeline(config, folder, new SpectreProgressObserver(context)).RunAsync().GetAwaiter().GetResult());
            }
            ResultsTable.Print(results);
            AnsiConsole.MarkupLineInterpolated($"Report: {folder.Report}");
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
