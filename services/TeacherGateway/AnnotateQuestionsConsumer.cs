using System.Text;
using System.Text.Json;
using Grpc.Core;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.ServiceDefaults.Messaging;
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
            var stored = await ReadAsync<Rationale>(command.OutputKey, token);
            await context.Publish(Outcome(command, stored.Select(r => r.QuestionId).Distinct().Count(), stored, ""), token);
            return;
        }

        var rationales = new List<Rationale>();
        try
        {
            var questions = await ReadAsync<Question>(command.QuestionsKey, token);
            int done = 0;
            var lastReport = DateTime.MinValue;
            await foreach (var (_, written) in annotation.AnnotateAsync(questions, command.RationalesPerQuestion, command.Teacher, token))
            {
                rationales.AddRange(written);
                if (++done < questions.Count && DateTime.UtcNow - lastReport < ProgressInterval) continue;
                lastReport = DateTime.UtcNow;
                await context.Publish(new QuestionsAnnotationProgressed(command.AnnotationId, done, questions.Count, rationales.Count, rationales.Count(r => r.Correct)), token);
            }
            var jsonl = string.Concat(rationales.Select(r => JsonSerializer.Serialize(r, JsonLines.Options) + "\n"));
            using var content = new MemoryStream(Encoding.UTF8.GetBytes(jsonl));
            await store.PutAsync(command.OutputKey, content, token);
            await context.Publish(Outcome(command, questions.Count, rationales, ""), token);
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
            rationales.FirstOrDefault()?.Producer ?? annotation.TeacherName, error);

    private async Task<IReadOnlyList<T>> ReadAsync<T>(string key, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer, cancellationToken);
        return JsonLines.Parse<T>(Encoding.UTF8.GetString(buffer.ToArray()).Split('\n'), key);
    }
}

/// <summary>The teacher-gateways' shared queue: one annotation at a time per replica.</summary>
public sealed class AnnotateQuestionsConsumerDefinition() : WorkQueueDefinition<AnnotateQuestionsConsumer>(AnnotateQuestions.Queue);
