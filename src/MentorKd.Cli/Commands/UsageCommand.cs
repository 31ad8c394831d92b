using System.CommandLine;
using Grpc.Core;
using Grpc.Net.Client;
using MentorKd.Protos.V1;
using Spectre.Console;

namespace MentorKd.Cli.Commands;

/// <summary><c>mentorkd usage</c>: what a teacher-gateway's teachers have been asked and what it cost since the gateway
/// started (its <c>GetUsage</c>), one row per teacher and their total.</summary>
internal static class UsageCommand
{
    public static Command Create()
    {
        var address = new Option<string>("--address") { Description = "The teacher-gateway (5101 distributed; the embedded platform's port under mentorkd serve).", DefaultValueFactory = _ => "http://localhost:5101" };
        var apiKey = PlatformConnection.ApiKey();
        var command = new Command("usage", "Show a teacher-gateway's calls, tokens, ledger hits, failures and cost, per teacher.") { address, apiKey };
        command.SetAction(result => RuntimeOptions.Guarded(() =>
        {
            using var channel = PlatformConnection.Open(result.GetValue(address)!, result.GetValue(apiKey));
            try
            {
                var usage = new Protos.V1.TeacherGateway.TeacherGatewayClient(channel).GetUsage(new GetUsageRequest());
                var table = new Table().Title($"Teacher usage at {result.GetValue(address)}")
                    .AddColumns("teacher", "questions", "requests", "HTTP attempts", "prompt tokens", "completion tokens", "ledger hits", "problems", "failures", "cost");
                foreach (var row in usage.Teachers.Append(usage))
                    table.AddRow(Markup.Escape(row == usage ? "total" : row.Teacher), $"{row.Questions:N0}", $"{row.Requests:N0}", $"{row.Attempts:N0}",
                        $"{row.PromptTokens:N0}", $"{row.CompletionTokens:N0}", $"{row.CacheHits:N0}", $"{row.Problems:N0}", $"{row.Failures:N0}", $"{row.Cost:0.####}");
                AnsiConsole.Write(table);
                return 0;
            }
            catch (RpcException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.StatusCode}: {e.Status.Detail}");
                return 2;
            }
        }));
        return command;
    }
}
