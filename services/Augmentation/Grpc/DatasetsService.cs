using Grpc.Core;
using MentorKd.Augmentation.Datasets;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;
using Microsoft.AspNetCore.Authorization;
using MentorKd.ServiceDefaults.Security;

namespace MentorKd.Augmentation.Grpc;

/// <summary>Dataset registration and mentor augmentation (Mentor-KD step 2.2) through the mentor-server.</summary>
public sealed class DatasetsService(DatasetRegistry registry, DatasetAugmenter augmenter, Microsoft.Extensions.Options.IOptions<AugmentationOptions> options)
    : Protos.V1.Datasets.DatasetsBase
{
    [Authorize(Policy = PlatformRoles.Admin)]
    public override async Task<Dataset> RegisterDataset(RegisterDatasetRequest request, ServerCallContext context)
    {
        DatasetRegistry.RequireId(request.DatasetId, "dataset_id");
        RpcErrors.Require(request.Kind is DatasetKind.Questions or DatasetKind.Rationales, "kind", $"must be QUESTIONS or RATIONALES (got {(int)request.Kind}).");
        RpcErrors.RequireKey(request.Key, "key");
        await registry.RequireReadableAsync(request.Key, "key", options.Value.Limits.MaxDatasetBytes, context.CancellationToken);
        var record = await registry.RegisterAsync(request.DatasetId, KindName(request.Kind), request.Key, null, null, allowEmpty: false, context.CancellationToken);
        return ToProto(record);
    }

    [Authorize(Policy = PlatformRoles.Reader)]
    public override async Task<Dataset> GetDataset(GetDatasetRequest request, ServerCallContext context) =>
        ToProto(await Find(request.DatasetId, "dataset_id", context.CancellationToken));

    [Authorize(Policy = PlatformRoles.Runner)]
    public override async Task<AugmentDatasetResponse> AugmentDataset(AugmentDatasetRequest request, ServerCallContext context)
    {
        var source = await Find(request.QuestionsDatasetId, "questions_dataset_id", context.CancellationToken);
        RpcErrors.Require(source.Kind == DatasetRegistry.Questions, "questions_dataset_id", $"'{source.DatasetId}' holds {source.Kind}, not questions.");
        DatasetRegistry.RequireId(request.OutputDatasetId, "output_dataset_id");
        // Registered datasets feed other teams' runs: replacing one is an admin's call, like registering it.
        if (!context.Caller().IsAdmin && await registry.FindAsync(request.OutputDatasetId, context.CancellationToken) is not null)
            throw new RpcException(new Status(StatusCode.AlreadyExists,
                $"output_dataset_id: dataset '{request.OutputDatasetId}' is already registered; name a new one (only an admin may replace a dataset)."));
        RpcErrors.Require(request.SamplesPerQuestion > 0, "samples_per_question", $"must be positive (got {request.SamplesPerQuestion}).");
        request.Sampling.ToOptions(request.SamplesPerQuestion, "sampling"); // validates before any work

        var outcome = await augmenter.AugmentAsync(source, request.OutputDatasetId, $"datasets/{request.OutputDatasetId}/rationales.jsonl",
            request.SamplesPerQuestion, request.Sampling, request.KeepIncorrect, questionsDone: null, context.CancellationToken);
        return new AugmentDatasetResponse
        {
            Dataset = ToProto(outcome.Dataset), Samples = outcome.Samples, Correct = outcome.Correct, QuestionsCovered = outcome.QuestionsCovered,
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

    public static Dataset ToProto(DatasetRecord record)
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
