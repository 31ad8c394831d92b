using System.CommandLine;

namespace MentorKd.Cli.Commands;

/// <summary><c>mentorkd lm …</c>: work with a single language model.</summary>
internal static class LanguageModelCommand
{
    public static Command Create()
    {
        var command = new Command("lm", "Train, sample from and inspect a single causal language model.");
        command.Subcommands.Add(LmTrainCommand.Create());
        command.Subcommands.Add(LmGenerateCommand.Create());
        command.Subcommands.Add(LmScoreCommand.Create());
        return command;
    }
}
