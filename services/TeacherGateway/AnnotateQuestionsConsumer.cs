using Grpc.Core;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.ServiceDefaults.Telemetry;
using MentorKd.Distillation.Data;
using MentorKd.Storage;

namespace MentorKd.TeacherGateway;

/// <summary>
/// Takes an annotation from the gateways' shared queue: reads the questions from the store, asks the teacher, writes
/// every judged rationale as one JSONL object (whole or not at all) and publishes the counts. An annotation whose output
/// already exists is not asked again: a command delivered twice publishes the stored outcome, and the teacher is paid once.
/// </summary>
public sealed class AnnotateQuestionsConsumer(QuestionAnnotation annotation, IObjectStore store, ILogger<AnnotateQuestionsConsumer> logger) : IConsumer<AnnotateQuestions>
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);

    public async Task Consume(ConsumeContext<AnnotateQuestions> context)
    {
        var command = context.Message;
        var token = context.CancellationToken;
        if (await store.StatAsync(command.OutputKey, token) is not null)
        {
            var stored = await store.ReadRowsAsync<Rationale>(command.OutputKey, token);
            var usage = await store.StatAsync(UsageKey(command.OutputKey), token) is null ? null
                : (await store.ReadRowsAsync<AnnotationUsage>(UsageKey(command.OutputKey), token)).Single();
            await context.Publish(Outcome(command, stored.Select(r => r.QuestionId).Distinct().Count(), stored, "") with
            {
                Failed = usage?.Failed ?? 0, FailuresKey = usage is { Failed: > 0 } ? FailuresKey(command.OutputKey) : "", Usage = usage?.Usage,
                Prompt = annotation.Describe(command.Teacher).Prompt,
            }, token);
            return;
        }

        var rationales = new List<Rationale>();
        var failures = new List<TeacherFailure>();
        var meter = new UsageMeter();
        using var work = PlatformWork.Start("annotation", command.AnnotationId, token);
        try
        {
            var questions = await store.ReadRowsAsync<Question>(command.QuestionsKey, token);
            int done = 0;
            var lastReport = DateTime.MinValue;
            await foreach (var annotated in annotation.AnnotateAsync(questions, command.RationalesPerQuestion, command.Teacher, meter, token))
            {
                rationales.AddRange(annotated.Rationales);
                failures.AddRange(annotated.Failures);
                if (++done < questions.Count && DateTime.UtcNow - lastReport < ProgressInterval) continue;
                lastReport = DateTime.UtcNow;
                await context.Publish(new QuestionsAnnotationProgressed(command.AnnotationId, done, questions.Count, rationales.Count, rationales.Count(r => r.Correct)), token);
            }
            // Failures and usage first: the rationales' object is what marks the annotation done.
            var failuresKey = FailuresKey(command.OutputKey);
            if (failures.Count > 0) await store.WriteRowsAsync(failuresKey, failures, token);
            await store.WriteRowsAsync(UsageKey(command.OutputKey), [new AnnotationUsage(failures.Count, meter.Snapshot())], token);
            await store.WriteRowsAsync(command.OutputKey, rationales, token);
            work.SetOutcome("completed");
            await context.Publish(Outcome(command, questions.Count, rationales, "") with
            {
                Failed = failures.Count, FailuresKey = failures.Count > 0 ? failuresKey : "", Usage = meter.Snapshot(), Prompt = annotation.Describe(command.Teacher).Prompt,
            }, token);
        }
        catch (Exception e) when (e is RpcException { StatusCode: StatusCode.InvalidArgument } or ObjectNotFoundException or InvalidDataException)
        {
            // A bad request fails the same way however often it is tried.
            var error = e is RpcException rpc ? rpc.Status.Detail : e.Message;
            logger.LogWarning("Annotation {Annotation} refused: {Error}", command.AnnotationId, error);
            await context.Publish(Outcome(command, 0, [], error), token);
        }
    }

    private QuestionsAnnotated Outcome(AnnotateQuestions command, int questions, IReadOnlyList<Rationale> rationales, string error) =>
        new(command.AnnotationId, command.OutputKey, questions, rationales.Count, rationales.Count(r => r.Correct),
            rationales.FirstOrDefault()?.Producer ?? annotation.Describe(command.Teacher).Name, error);

    /// <summary>Where an annotation's failed calls are listed, beside its rationales.</summary>
    public static string FailuresKey(string outputKey) => StoredRows.Beside(outputKey, "failures");

    /// <summary>What an annotation cost, kept beside its rationales so a repeated command reports it again.</summary>
    private static string UsageKey(string outputKey) => StoredRows.Beside(outputKey, "usage");

    private sealed record AnnotationUsage(int Failed, TeacherUsageTotals Usage);
}

/// <summary>The teacher-gateways' shared queue: one annotation at a time per replica.</summary>
public sealed class AnnotateQuestionsConsumerDefinition() : WorkQueueDefinition<AnnotateQuestionsConsumer>(AnnotateQuestions.Queue);
