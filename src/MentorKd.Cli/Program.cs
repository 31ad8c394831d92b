using System.CommandLine;
using MentorKd.Cli.Commands;

var root = new RootCommand("mentorkd — distil multi-step reasoning from a teacher LLM into small language models.");
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(SubmitCommand.Create());
root.Subcommands.Add(ExperimentCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(AddQuestionsCommand.Create());
root.Subcommands.Add(UsageCommand.Create());
root.Subcommands.Add(LanguageModelCommand.Create());
return root.Parse(args).Invoke();
