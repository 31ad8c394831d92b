using MentorKd.Distillation.Data;
using Question = MentorKd.Distillation.Data.Question;
using Rationale = MentorKd.Distillation.Data.Rationale;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Embedded;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

/// <summary>A whole run whose `openai` teacher sits behind an endpoint that keeps failing in every way an API does.</summary>
public class FaultyTeacherRunTests
{
    [Fact]
    public async Task A_run_whose_teacher_endpoint_injects_faults_completes_with_every_call_accounted_for()
    {
        // Good replies solve the question (the task's exact solver), so the run has real rationales to learn from.
        var solver = new CoinFlipTask();
        await using var endpoint = await FaultyOpenAiEndpoint.StartAsync(
            i => i == 40 ? Fault.Hang : i % 10 == 3 ? Fault.RateLimited : i % 10 == 6 ? Fault.ServerError : i % 23 == 0 ? Fault.TruncatedJson
                : i % 29 == 0 ? Fault.EmptyChoices : Fault.None,
            body =>
            {
                var prompt = body.GetProperty("messages")[0].GetProperty("content").GetString()!;
                var question = prompt[(prompt.IndexOf("Q: ", StringComparison.Ordinal) + 3)..prompt.IndexOf("\nA:", StringComparison.Ordinal)];
                return solver.Solve(new Question("asked", solver.Name, question, ""), 0, new Random(1), mistake: false).Text;
            });
        var tiny = EmbeddedTestRuns.Tiny();
        var config = tiny with
        {
            Teacher = tiny.Teacher with
            {
                Kind = "openai", Name = "flaky", BaseUrl = endpoint.BaseUrl.ToString(), Model = "scripted", Prompt = "zero-shot-cot",
                TimeoutSeconds = 2, MaxConcurrentCalls = 8,
            },
            Arms = [StudentArms.MentorKd],
        };
        RunConfigValidator.Validate(config);

        await using var platform = await EmbeddedTestRuns.StartAsync(EmbeddedTestRuns.NewDataRoot(), config);
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);
        var run = await RunSession.RunAsync(runs, Guid.NewGuid(), config, _ => { });

        Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}");
        using var buffer = new MemoryStream();
        await platform.Services.GetRequiredService<IObjectStore>().GetAsync(run.TeacherRationalesKey, buffer);
        var rationales = JsonLines.Parse<Rationale>(System.Text.Encoding.UTF8.GetString(buffer.ToArray()).Split('\n'), run.TeacherRationalesKey);
        Assert.Equal(200, rationales.Count);
        Assert.All(rationales, r => Assert.True(r.Correct, r.Text));
        // Every HTTP request the endpoint saw is one of the run's counted attempts; none failed for good.
        Assert.True(endpoint.Requests > 240, $"{endpoint.Requests} requests: the script's faults should have forced retries");
        var report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        Assert.Contains($"| teacher calls | 200 requests ({endpoint.Requests} HTTP attempts)", report.Markdown);
        Assert.Contains("0 calls failed after every retry", report.Markdown);
        Assert.True(report.Arms.Single().TestAccuracy > 0.75, $"student test accuracy {report.Arms.Single().TestAccuracy}");
    }
}
