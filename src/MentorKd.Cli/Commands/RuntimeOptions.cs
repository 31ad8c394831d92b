using System.CommandLine;
using MentorKd.Modeling.Runtime;
using Spectre.Console;
using static TorchSharp.torch;

namespace MentorKd.Cli.Commands;

/// <summary>Options every model command takes, and the error handling they share.</summary>
internal static class RuntimeOptions
{
    public static readonly Option<int> Threads = new("--threads") { Description = "libtorch threads (0 = one per core).", DefaultValueFactory = _ => 0 };
    public static readonly Option<string> Device = new("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
    /// <summary>For the commands that start the embedded platform (Trainer:FixedThreadShare).</summary>
    public static readonly Option<bool> FixedThreadShare = new("--fixed-thread-share")
    {
        Description = "Train every job on its fixed share of the threads, even alone: students bit-reproducible whichever arms train beside them (slower).",
    };

    public static void AddTo(Command command)
    {
        command.Options.Add(Threads);
        command.Options.Add(Device);
    }

    public static Device Apply(ParseResult result)
    {
        TorchRuntime.SetThreads(result.GetValue(Threads));
        return TorchRuntime.ResolveDevice(result.GetValue(Device)!);
    }

    /// <summary>Runs a command body; bad input becomes one red line and exit code 2, not a stack trace.</summary>
    public static int Guarded(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidOperationException or System.Text.Json.JsonException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return 2;
        }
    }
}
