using System.CommandLine;
using Grpc.Core;
using Grpc.Net.Client;
using MentorKd.Distillation.Data;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using Spectre.Console;
using Question = MentorKd.Distillation.Data.Question;

namespace MentorKd.Cli.Commands;

/// <summary>
/// <c>mentorkd add-questions</c>: new training questions for a run on a running platform. Once the run has completed,
/// they make a retraining round (teacher → mentor → the Mentor-KD student retrained → evaluated); --wait follows it.
/// </summary>
internal static class AddQuestionsCommand
{
    public static Command Create()
    {
        var address = new Option<string>("--address") { Description = "The augmentation service.", DefaultValueFactory = _ => "http://localhost:5103" };
        var runId = new Option<string>("--run-id") { Description = "The run the questions are for.", Required = true };
        var file = new Option<string>("--file") { Description = "JSONL of questions (id, task, text, answer).", Required = true };
        var wait = new Option<bool>("--wait") { Description = "Wait for the retraining round and print every round so far." };
        var apiKey = PlatformConnection.ApiKey();
        var command = new Command("add-questions", "Add training questions to a run: they start a retraining round.") { address, runId, file, wait, apiKey };
        command.SetAction(result => RuntimeOptions.Guarded(() =>
        {
            var questions = JsonLines.Read<Question>(result.GetValue(file)!);
            using var channel = PlatformConnection.Open(result.GetValue(address)!, result.GetValue(apiKey));
            var runs = new Protos.V1.Runs.RunsClient(channel);
            try
            {
                return RoundClient.AddAndFollowAsync(runs, result.GetValue(runId)!, questions, result.GetValue(wait)).GetAwaiter().GetResult();
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

/// <summary>Adds questions to a run through the Runs API and, if asked, waits for their round.</summary>
internal static class RoundClient
{
    public static async Task<int> AddAndFollowAsync(Protos.V1.Runs.RunsClient runs, string runId, IReadOnlyList<Question> questions, bool wait,
        CancellationToken cancellationToken = default)
    {
        var before = (await runs.GetReportAsync(new GetReportRequest { RunId = runId }, cancellationToken: cancellationToken)).Rounds.Count;
        var request = new AddQuestionsRequest { RunId = runId };
        request.Questions.AddRange(questions.Select(q => q.ToProto()));
        var added = await runs.AddQuestionsAsync(request, cancellationToken: cancellationToken);
        AnsiConsole.MarkupLineInterpolated($"{added.Count} questions added to run {added.RunId} ({added.Questions.Key}, sha256 {added.Questions.Sha256[..12]}…)");
        if (!wait) return 0;

        Protos.V1.RunReport report;
        while (true)
        {
            report = await runs.GetReportAsync(new GetReportRequest { RunId = runId }, cancellationToken: cancellationToken);
            if (report.Rounds.Any(r => r.QuestionsSha256 == added.Questions.Sha256)) break;
            var run = await runs.GetRunAsync(new GetRunRequest { RunId = runId }, cancellationToken: cancellationToken);
            if (run.Status is RunStatus.Completed && run.FailedStage.StartsWith("round", StringComparison.Ordinal) && report.Rounds.Count == before)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]the round failed:[/] {run.FailedStage}: {run.Error}");
                return 1;
            }
            await Task.Delay(2000, cancellationToken);
        }
        var table = new Table().AddColumns("round", "questions added", "training questions", "teacher kept", "mentor correct", "student test accuracy");
        foreach (var r in report.Rounds)
            table.AddRow(r.Round.ToString(), r.QuestionsAdded.ToString(), r.TrainQuestions.ToString(), r.TeacherKept.ToString(), r.MentorCorrect.ToString(), $"{r.StudentTestAccuracy:P1}");
        AnsiConsole.Write(table);
        return 0;
    }
}
