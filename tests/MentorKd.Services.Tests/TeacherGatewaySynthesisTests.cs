using System.Text.Json;
using Grpc.Core;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Teachers;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Storage;
using MentorKd.TeacherGateway;
using MentorKd.TeacherGateway.Extensions;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

/// <summary>The teacher-gateway writing new problems (FDD's teacher side) over gRPC: the simulated teacher on a synthetic
/// task, and an LLM teacher behind an OpenAI-compatible endpoint whose problems are verified by agreeing solutions.</summary>
public class TeacherGatewaySynthesisTests
{
    [Fact]
    public async Task The_simulated_teacher_writes_harder_and_similar_problems_and_held_out_duplicates_are_rejected()
    {
        await using var gateway = await TestServiceHost.StartAsync(b => b.AddTeacherGateway(), a => a.MapTeacherGateway());
        var client = new Protos.V1.TeacherGateway.TeacherGatewayClient(gateway.Channel);
        var originals = ServiceTestData.Questions(3);
        // The gateway's simulated teacher (seed 42, error rate 0.15) is deterministic: its first harder problem for q0, known here, is held out.
        var expected = await new SimulatedTeacher(new CoinFlipTask(), 0.15, 42).SynthesizeAsync(originals[0], Distillation.Teachers.SynthesisMode.Harder, 2, CancellationToken.None);
        var heldOut = expected.Accepted[0].Question.Text;

        var harder = await Synthesize(client, originals, Protos.V1.SynthesisMode.Harder, 2, heldOut: [heldOut.ToUpperInvariant()]);
        Assert.Equal(originals.Select(q => q.Id), harder.Select(r => r.DerivedFrom));
        var rejected = Assert.Single(harder.SelectMany(r => r.Rejected));
        Assert.Equal("duplicates a held-out question (dev, test, or one already trained on)", rejected.Reason);
        var accepted = harder.SelectMany(r => r.Accepted).ToList();
        Assert.Equal(5, accepted.Count);
        var task = new CoinFlipTask();
        foreach (var problem in accepted)
        {
            var original = originals.Single(q => problem.Question.Id.StartsWith(q.Id + "~harder"));
            Assert.Equal(task.DifficultyOf(original) + 1, problem.Question.Difficulty);
            Assert.Equal(problem.Question.Answer, task.Solve(problem.Question.ToQuestion("question"), 0, new Random(1), mistake: false).Answer);
            Assert.StartsWith("simulated-teacher", problem.Rationale.Producer);
        }

        var similar = (await Synthesize(client, originals, Protos.V1.SynthesisMode.Similar, 1)).SelectMany(r => r.Accepted).ToList();
        Assert.Equal(3, similar.Count);
        Assert.All(similar, p => Assert.Equal(2, p.Question.Difficulty));

        var unspecified = await Assert.ThrowsAsync<RpcException>(() => Synthesize(client, originals, Protos.V1.SynthesisMode.Unspecified, 1));
        Assert.Equal(StatusCode.InvalidArgument, unspecified.StatusCode);
        Assert.Contains("mode", unspecified.Status.Detail);
    }

    [Fact]
    public async Task An_llm_teachers_problems_are_accepted_only_when_its_solutions_agree_and_they_are_new()
    {
        var originals = ServiceTestData.Questions(3);
        const string Agreed = "A coin is heads up. Zoe flips the coin. Ivy flips the coin. Kai does not flip the coin. Is the coin still heads up?";
        const string Disputed = "A coin is heads up. Omar flips the coin. Is the coin still heads up?";
        const string HeldOut = "A coin is heads up. Sam does not flip the coin. Is the coin still heads up?";
        await using var endpoint = await FaultyOpenAiEndpoint.StartAsync(_ => Fault.None, body =>
        {
            var prompt = body.GetProperty("messages")[0].GetProperty("content").GetString()!;
            if (prompt.Contains("Write one new problem"))
                return prompt.Contains(originals[0].Text) ? $"Sure! Here it is.\nProblem: {Agreed}\nAnswer: yes"
                    : prompt.Contains(originals[1].Text) ? $"Problem: {Disputed}" : $"**Problem:** {HeldOut}";
            // Solutions: the disputed problem gets a different answer from each seed.
            var seed = body.TryGetProperty("seed", out var s) ? s.GetInt64() : 0;
            return prompt.Contains("Omar") && seed % 2 == 1 ? "Omar flips it once, so the answer is no." : "Counting the flips, the answer is yes.";
        });
        await using var gateway = await TestServiceHost.StartAsync(b => b.AddTeacherGateway(), a => a.MapTeacherGateway(), new Dictionary<string, string?>
        {
            ["TeacherGateway:Teachers:writer:BaseUrl"] = endpoint.BaseUrl.ToString(),
            ["TeacherGateway:Teachers:writer:Model"] = "scripted",
            ["TeacherGateway:Teachers:writer:Seed"] = "4",
            ["TeacherGateway:Teachers:writer:VerificationSamples"] = "3",
        });
        var client = new Protos.V1.TeacherGateway.TeacherGatewayClient(gateway.Channel);

        var outcomes = await Synthesize(client, originals, Protos.V1.SynthesisMode.Harder, 1, teacher: "writer", heldOut: [HeldOut]);

        var accepted = Assert.Single(outcomes[0].Accepted);
        Assert.Equal(Agreed, accepted.Question.Text);
        Assert.Equal("yes", accepted.Question.Answer);
        Assert.Equal($"{originals[0].Id}~harder0", accepted.Question.Id);
        Assert.True(accepted.Rationale.Correct);
        Assert.Equal("openai:writer(scripted)", accepted.Rationale.Producer);
        Assert.StartsWith("3 solutions disagree", Assert.Single(outcomes[1].Rejected).Reason);
        Assert.Equal("duplicates a held-out question (dev, test, or one already trained on)", Assert.Single(outcomes[2].Rejected).Reason);
        Assert.Equal(3 + 3 * 3, endpoint.Requests); // one call writing each problem, three solving it
        Assert.Equal(12, (await client.GetUsageAsync(new GetUsageRequest())).Requests);
    }

    [Fact]
    public async Task A_synthesis_from_the_queue_stores_the_problems_and_rejections_and_a_repeated_command_asks_nothing_more()
    {
        await using var host = await TestServiceHost.StartAsync(b => b.AddTeacherGateway().AddMessaging(bus => bus.AddTeacherGatewayMessaging()), a => a.MapTeacherGateway());
        var store = host.Services.GetRequiredService<IObjectStore>();
        var originals = ServiceTestData.Questions(4);
        var heldOut = (await new SimulatedTeacher(new CoinFlipTask(), 0.15, 42).SynthesizeAsync(originals[1], Distillation.Teachers.SynthesisMode.Similar, 1, CancellationToken.None))
            .Accepted[0].Question with { Id = "dev-0" };
        await store.WriteRowsAsync("runs/s/pool.jsonl", originals, CancellationToken.None);
        await store.WriteRowsAsync("runs/s/dev.jsonl", [heldOut], CancellationToken.None);

        var bus = host.Services.GetRequiredService<IBus>();
        var outcomes = System.Threading.Channels.Channel.CreateUnbounded<ProblemsSynthesized>();
        var observer = bus.ConnectReceiveEndpoint("test-problems-synthesized", e => e.Handler<ProblemsSynthesized>(c => outcomes.Writer.WriteAsync(c.Message).AsTask()));
        await observer.Ready;
        var command = new SynthesizeProblems("s1", "runs/s/pool.jsonl", "similar", 1, ["runs/s/dev.jsonl"], "runs/s/round-1/problems.jsonl");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await bus.SendToQueueAsync(SynthesizeProblems.Queue, command, CancellationToken.None);
        var first = await outcomes.Reader.ReadAsync(timeout.Token);
        var requests = (await new Protos.V1.TeacherGateway.TeacherGatewayClient(host.Channel).GetUsageAsync(new GetUsageRequest())).Requests;
        await bus.SendToQueueAsync(SynthesizeProblems.Queue, command, CancellationToken.None);
        var again = await outcomes.Reader.ReadAsync(timeout.Token);

        Assert.Equal("", first.Error);
        Assert.Equal((4, 3, 1), (first.Questions, first.Accepted, first.Rejected)); // the dev question's twin is rejected
        Assert.Equal(first, again);
        Assert.Equal(requests, (await new Protos.V1.TeacherGateway.TeacherGatewayClient(host.Channel).GetUsageAsync(new GetUsageRequest())).Requests);
        var problems = await store.ReadRowsAsync<Distillation.Teachers.SynthesizedProblem>(command.OutputKey, CancellationToken.None);
        Assert.Equal([originals[0].Id, originals[2].Id, originals[3].Id], problems.Select(p => p.DerivedFrom));
        Assert.All(problems, p => Assert.Equal(Distillation.Teachers.SynthesisMode.Similar, p.Mode));
        var rejected = Assert.Single(await store.ReadRowsAsync<Distillation.Teachers.RejectedProblem>(first.RejectedKey, CancellationToken.None));
        Assert.Equal(heldOut.Text, rejected.Text);

        await bus.SendToQueueAsync(SynthesizeProblems.Queue, command with { SynthesisId = "s2", Mode = "easier", OutputKey = "runs/s/other.jsonl" }, CancellationToken.None);
        Assert.Contains("mode", (await outcomes.Reader.ReadAsync(timeout.Token)).Error);
        await observer.StopAsync();
    }

    private static async Task<List<SynthesizeResponse>> Synthesize(Protos.V1.TeacherGateway.TeacherGatewayClient client, IReadOnlyList<Distillation.Data.Question> questions,
        Protos.V1.SynthesisMode mode, int perQuestion, string teacher = "", IEnumerable<string>? heldOut = null)
    {
        var request = new SynthesizeRequest { Mode = mode, PerQuestion = perQuestion, Teacher = teacher };
        request.Questions.AddRange(questions.Select(q => q.ToProto()));
        request.HeldOut.AddRange(heldOut ?? []);
        using var call = client.Synthesize(request);
        return await call.ResponseStream.ReadAllAsync().ToListAsync();
    }
}
