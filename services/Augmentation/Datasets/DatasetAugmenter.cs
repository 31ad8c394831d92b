using Grpc.Core;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;
using Microsoft.Extensions.Options;
using Question = MentorKd.Distillation.Data.Question;
using Rationale = MentorKd.Distillation.Data.Rationale;

namespace MentorKd.Augmentation.Datasets;

/// <summary>
/// Mentor-KD step 2.2: the mentor-server samples n rationales for every question of a dataset; the correct ones (or
/// all, judged) are stored and registered as a new dataset derived from the questions, produced by the mentor.
/// </summary>
public sealed class DatasetAugmenter(DatasetRegistry registry, Protos.V1.MentorServer.MentorServerClient mentor, IOptions<AugmentationOptions> options)
{
    public sealed record Outcome(DatasetRecord Dataset, int Samples, int Correct, int QuestionsCovered);

    /// <param name="questionsDone">Called after each question's samples arrive, with the count so far.</param>
    public async Task<Outcome> AugmentAsync(DatasetRecord questions, string outputId, string outputKey, int samplesPerQuestion,
        SamplingParameters sampling, bool keepIncorrect, Func<int, Task>? questionsDone, CancellationToken cancellationToken)
    {
        var info = await mentor.GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: cancellationToken);
        if (!info.Loaded) RpcErrors.FailedPrecondition("the mentor-server has no mentor loaded.");
        var rows = await registry.ReadRowsAsync<Question>(questions, cancellationToken);
        var kept = new List<Rationale>();
        int samples = 0, done = 0;
        foreach (var chunk in rows.Chunk(options.Value.QuestionsPerCall))
        {
            var generate = new GenerateRequest { SamplesPerQuestion = samplesPerQuestion, Sampling = sampling };
            generate.Questions.AddRange(chunk.Select(q => q.ToProto()));
            using var call = mentor.Generate(generate, cancellationToken: cancellationToken);
            await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                foreach (var rationale in response.Rationales)
                {
                    samples++;
                    if (rationale.Correct || keepIncorrect) kept.Add(rationale.ToRecord());
                }
                done++;
                if (questionsDone is not null) await questionsDone(done);
            }
        }

        await registry.WriteRowsAsync(outputKey, kept, cancellationToken);
        var record = await registry.RegisterAsync(outputId, DatasetRegistry.Rationales, outputKey, questions.DatasetId, $"mentor:{info.CheckpointKey}", allowEmpty: true, cancellationToken);
        return new Outcome(record, samples, kept.Count(r => r.Correct), kept.Where(r => r.Correct).Select(r => r.QuestionId).Distinct().Count());
    }
}
