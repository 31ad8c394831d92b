using Grpc.Core;
using MentorKd.Augmentation.Datasets;
using MentorKd.ModelServing;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;
using Microsoft.Extensions.Options;
using Question = MentorKd.Distillation.Data.Question;

namespace MentorKd.Augmentation.Grpc;

/// <summary>Dataset registration and mentor augmentation (Mentor-KD step 2.2) through the mentor-server.</summary>
public sealed class DatasetsService(DatasetRegistry registry, Protos.V1.MentorServer.MentorServerClient mentor, IOptions<AugmentationOptions> options)
    : Protos.V1.Datasets.DatasetsBase
{
    public override async Task<Dataset> RegisterDataset(RegisterDatasetRequest request, ServerCallContext context)
    {
        DatasetRegistry.RequireId(request.DatasetId, "dataset_id");
        RpcErrors.Require(request.Kind != DatasetKind.Unspecified, "kind", "must be QUESTIONS or RATIONALES.");
        RpcErrors.RequireKey(request.Key, "key");
        var record = await registry.RegisterAsync(request.DatasetId, KindName(request.Kind), request.Key, null, null, allowEmpty: false, context.CancellationToken);
        return ToProto(record);
    }

    public override async Task<Dataset> GetDataset(GetDatasetRequest request, ServerCallContext context) =>
        ToProto(await Find(request.DatasetId, "dataset_id", context.CancellationToken));

    public override async Task<AugmentDatasetResponse> AugmentDataset(AugmentDatasetRequest request, ServerCallContext context)
    {
        var source = await Find(request.QuestionsDatasetId, "questions_dataset_id", context.CancellationToken);
        RpcErrors.Require(source.Kind == DatasetRegistry.Questions, "questions_dataset_id", $"'{source.DatasetId}' holds {source.Kind}, not questions.");
        DatasetRegistry.RequireId(request.OutputDatasetId, "output_dataset_id");
        RpcErrors.Require(request.SamplesPerQuestion > 0, "samples_per_question", $"must be positive (got {request.SamplesPerQuestion}).");
        request.Sampling.ToOptions(request.SamplesPerQuestion, "sampling"); // validates before any work

        var info = await mentor.GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: context.CancellationToken);
        if (!info.Loaded) RpcErrors.FailedPrecondition("the mentor-server has no mentor loaded.");
        var questions = await registry.ReadRowsAsync<Question>(source, context.CancellationToken);
        var kept = new List<Distillation.Data.Rationale>();
        int samples = 0;
        foreach (var chunk in questions.Chunk(options.Value.QuestionsPerCall))
        {
            var generate = new GenerateRequest { SamplesPerQuestion = request.SamplesPerQuestion, Sampling = request.Sampling };
            generate.Questions.AddRange(chunk.Select(q => q.ToProto()));
            using var call = mentor.Generate(generate, cancellationToken: context.CancellationToken);
            await foreach (var response in call.ResponseStream.ReadAllAsync(context.CancellationToken))
                foreach (var rationale in response.Rationales)
                {
                    samples++;
                    if (rationale.Correct || request.KeepIncorrect) kept.Add(rationale.ToRecord());
                }
        }

        var key = $"datasets/{request.OutputDatasetId}/rationales.jsonl";
        await registry.WriteRowsAsync(key, kept, context.CancellationToken);
        var record = await registry.RegisterAsync(request.OutputDatasetId, DatasetRegistry.Rationales, key, source.DatasetId, $"mentor:{info.CheckpointKey}", allowEmpty: true, context.CancellationToken);
        return new AugmentDatasetResponse
        {
            Dataset = ToProto(record),
            Samples = samples,
            Correct = kept.Count(r => r.Correct),
            QuestionsCovered = kept.Where(r => r.Correct).Select(r => r.QuestionId).Distinct().Count(),
        };
    }

    private async Task<DatasetRecord> Find(string id, string field, CancellationToken cancellationToken)
    {
        DatasetRegistry.RequireId(id, field);
        var record = await registry.FindAsync(id, cancellationToken);
        if (record is null) RpcErrors.NotFound($"{field}: no dataset '{id}'.");
        return record;
    }

    private static string KindName(DatasetKind kind) => kind == DatasetKind.Questions ? DatasetRegistry.Questions : DatasetRegistry.Rationales;

    private static Dataset ToProto(DatasetRecord record)
    {
        var dataset = new Dataset
        {
            DatasetId = record.DatasetId,
            Kind = record.Kind == DatasetRegistry.Questions ? DatasetKind.Questions : DatasetKind.Rationales,
            Object = new ObjectRef { Key = record.Key, Sha256 = record.Sha256, SizeBytes = record.SizeBytes },
            Rows = record.Rows,
            DerivedFrom = record.DerivedFrom ?? "",
            Producer = record.Producer ?? "",
        };
        dataset.Tasks.AddRange(record.Tasks);
        return dataset;
    }
}
