using Grpc.Core;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Teachers;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Storage;
using MentorKd.ServiceDefaults.Telemetry;

namespace MentorKd.TeacherGateway;

/// <summary>
/// Takes a synthesis from the gateways' shared queue: reads the questions and the held-out questions from the store, has
/// the teacher write and verify new problems, writes the rejected candidates and the usage, then the accepted problems
/// (the object that marks the synthesis done), and publishes the counts. A synthesis whose output already exists is not
/// asked again: a command delivered twice publishes the stored outcome, and the teacher is paid once.
/// </summary>
public sealed class SynthesizeProblemsConsumer(QuestionSynthesis synthesis, QuestionAnnotation annotation, IObjectStore store,
    ILogger<SynthesizeProblemsConsumer> logger) : IConsumer<SynthesizeProblems>
{
    public async Task Consume(ConsumeContext<SynthesizeProblems> context)
    {
        var (command, token) = (context.Message, context.CancellationToken);
        var (rejectedKey, usageKey) = (StoredRows.Beside(command.OutputKey, "rejected"), StoredRows.Beside(command.OutputKey, "usage"));
        if (await store.StatAsync(command.OutputKey, token) is not null)
        {
            var stored = await store.ReadRowsAsync<SynthesizedProblem>(command.OutputKey, token);
            var storedRejections = await store.ReadRowsAsync<RejectedProblem>(rejectedKey, token);
            var storedUsage = (await store.ReadRowsAsync<SynthesisUsage>(usageKey, token)).Single();
            await context.Publish(Outcome(command, storedUsage.Questions, stored, storedRejections, "") with { Usage = storedUsage.Usage }, token);
            return;
        }

        using var work = PlatformWork.Start("synthesis", command.SynthesisId, token);
        try
        {
            var mode = command.Mode switch
            {
                "harder" => SynthesisMode.Harder,
                "similar" => SynthesisMode.Similar,
                _ => throw new InvalidDataException($"mode: '{command.Mode}' is not harder or similar."),
            };
            var questions = await store.ReadRowsAsync<Question>(command.QuestionsKey, token);
            var heldOut = new List<string>();
            foreach (var key in command.HeldOutKeys) heldOut.AddRange((await store.ReadRowsAsync<Question>(key, token)).Select(q => q.Text));

            var (accepted, rejected, meter) = (new List<SynthesizedProblem>(), new List<RejectedProblem>(), new UsageMeter());
            await foreach (var outcome in synthesis.SynthesizeAsync(questions, mode, command.PerQuestion, command.Teacher, heldOut, command.VerifySamples, meter, token))
            {
                accepted.AddRange(outcome.Accepted);
                rejected.AddRange(outcome.Rejected);
            }
            // Rejections and usage first: the accepted problems' object is what marks the synthesis done.
            await store.WriteRowsAsync(rejectedKey, rejected, token);
            await store.WriteRowsAsync(usageKey, [new SynthesisUsage(questions.Count, meter.Snapshot())], token);
            await store.WriteRowsAsync(command.OutputKey, accepted, token);
            work.SetOutcome("completed");
            await context.Publish(Outcome(command, questions.Count, accepted, rejected, "") with { Usage = meter.Snapshot() }, token);
        }
        catch (Exception e) when (e is RpcException { StatusCode: StatusCode.InvalidArgument } or ObjectNotFoundException or InvalidDataException)
        {
            // A bad request fails the same way however often it is tried.
            var error = e is RpcException rpc ? rpc.Status.Detail : e.Message;
            logger.LogWarning("Synthesis {Synthesis} refused: {Error}", command.SynthesisId, error);
            await context.Publish(Outcome(command, 0, [], [], error), token);
        }
    }

    private ProblemsSynthesized Outcome(SynthesizeProblems command, int questions, IReadOnlyList<SynthesizedProblem> accepted,
        IReadOnlyList<RejectedProblem> rejected, string error) =>
        new(command.SynthesisId, command.OutputKey, StoredRows.Beside(command.OutputKey, "rejected"), questions, accepted.Count, rejected.Count,
            accepted.FirstOrDefault()?.Rationale.Producer ?? annotation.Describe(command.Teacher).Name, error);

    private sealed record SynthesisUsage(int Questions, TeacherUsageTotals Usage);
}

/// <summary>The teacher-gateways' shared synthesis queue: one synthesis at a time per replica.</summary>
public sealed class SynthesizeProblemsConsumerDefinition() : WorkQueueDefinition<SynthesizeProblemsConsumer>(SynthesizeProblems.Queue);
