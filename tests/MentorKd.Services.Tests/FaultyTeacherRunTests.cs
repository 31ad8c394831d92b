using MentorKd.Distillation.Data;
using Question = MentorKd.Distillation.Data.Question;
using Rationale = MentorKd.Distillation.Data.Rationale;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Embedded;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;
using MentorKd.Tests.Shared;
using Xunit.Abstractions;

namespace MentorKd.Services.Tests;

/// <summary>Whole runs whose `openai` teacher sits behind an endpoint that keeps failing in every way an API does, or is away for a minute.</summary>
public class FaultyTeacherRunTests(ITestOutputHelper output)
{
    /// <summary>Good replies solve the question (the task's exact solver), so the run has real rationales to learn from.</summary>
    private static string SolvingReply(System.Text.Json.JsonElement body)
    {
        var prompt = body.GetProperty("messages")[0].GetProperty("content").GetString()!;
        var question = prompt[(prompt.IndexOf("Q: ", StringComparison.Ordinal) + 3)..prompt.IndexOf("\nA:", StringComparison.Ordinal)];
        return Solver.Solve(new Question("asked", Solver.Name, question, ""), 0, new Random(1), mistake: false).Text;
    }

    private static readonly CoinFlipTask Solver = new();

    [Fact]
    public async Task A_run_whose_teacher_endpoint_injects_faults_completes_with_every_call_accounted_for()
    {
        await using var endpoint = await FaultyOpenAiEndpoint.StartAsync(
            i => i == 40 ? Fault.Hang : i % 10 == 3 ? Fault.RateLimited : i % 10 == 6 ? Fault.ServerError : i % 23 == 0 ? Fault.TruncatedJson
                : i % 29 == 0 ? Fault.EmptyChoices : Fault.None,
            SolvingReply);
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

    [Fact]
    public async Task A_run_waits_out_its_teacher_endpoint_being_down_for_a_minute_and_loses_no_question()
    {
        await using var endpoint = await FaultyOpenAiEndpoint.StartAsync(_ => Fault.None, SolvingReply);
        // The gateway reaches the endpoint through a proxy that takes it away (connections reset, then refused) for a
        // minute from the 50th request on.
        await using var proxy = await OutageProxy.StartAsync(endpoint.BaseUrl.Host, endpoint.BaseUrl.Port);
        var downtime = TimeSpan.FromSeconds(60);
        proxy.GoDownOn(new System.Text.RegularExpressions.Regex("POST /v1/chat/completions"), occurrence: 50, downtime);
        var tiny = EmbeddedTestRuns.Tiny();
        var config = tiny with
        {
            Teacher = tiny.Teacher with
            {
                Kind = "openai", Name = "away", BaseUrl = $"http://{proxy.Endpoint}/v1", Model = "scripted", Prompt = "zero-shot-cot", MaxConcurrentCalls = 8,
            },
            Arms = [StudentArms.MentorKd],
        };
        RunConfigValidator.Validate(config);

        await using var platform = await EmbeddedTestRuns.StartAsync(EmbeddedTestRuns.NewDataRoot(), config);
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);
        var started = DateTime.UtcNow;
        var run = await RunSession.RunAsync(runs, Guid.NewGuid(), config, _ => { });

        Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}");
        var outage = Assert.Single(proxy.Outages);
        Assert.True(outage.To - outage.From >= downtime - TimeSpan.FromSeconds(1), $"the endpoint was away {(outage.To - outage.From).TotalSeconds:0} s");
        // Every question was answered once the endpoint was back: none lost to the outage.
        using var buffer = new MemoryStream();
        await platform.Services.GetRequiredService<IObjectStore>().GetAsync(run.TeacherRationalesKey, buffer);
        var rationales = JsonLines.Parse<Rationale>(System.Text.Encoding.UTF8.GetString(buffer.ToArray()).Split('\n'), run.TeacherRationalesKey);
        Assert.Equal(200, rationales.Count);
        Assert.Equal(200, rationales.Select(r => r.QuestionId).Distinct().Count());
        Assert.True(endpoint.Arrivals.Any(a => a.At > outage.To), "no request reached the endpoint after the outage");
        var report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        Assert.Contains("0 calls failed after every retry", report.Markdown);
        Assert.True(report.Arms.Single().TestAccuracy > 0.75, $"student test accuracy {report.Arms.Single().TestAccuracy}");
        output.WriteLine($"FAULT | teacher endpoint away {downtime.TotalSeconds:0} s from its 50th request | completed in {(DateTime.UtcNow - started).TotalSeconds:0} s | " +
            $"200/200 questions annotated, 0 calls failed, {endpoint.Requests} requests served");
    }
}
