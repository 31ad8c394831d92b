using Grpc.Core;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks;
using MentorKd.Distillation.Training;
using MentorKd.ModelServing;
using MentorKd.Modeling.Runtime;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;
using MentorKd.Storage;
using LibraryRationale = MentorKd.Distillation.Data.Rationale;
using Microsoft.AspNetCore.Authorization;
using MentorKd.ServiceDefaults.Security;
using MentorKd.ServiceDefaults.Telemetry;

namespace MentorKd.MentorServer.Grpc;

/// <summary>Serves the resident mentor: checkpoint lifecycle, batched sampling, soft labels.</summary>
public sealed class MentorServerService(MentorHost host, ILogger<MentorServerService> logger) : Protos.V1.MentorServer.MentorServerBase
{
    public const int MaxSamplesPerQuestion = 64;

    [Authorize(Policy = PlatformRoles.Admin)]
    public override async Task<ModelInfo> LoadCheckpoint(LoadCheckpointRequest request, ServerCallContext context)
    {
        RpcErrors.RequireKey(request.CheckpointKey, "checkpoint_key");
        RpcErrors.Require(request.Dtype is "" || TorchRuntime.DTypes.Contains(request.Dtype), "dtype", $"'{request.Dtype}' is not {string.Join(", ", TorchRuntime.DTypes)}.");
        try
        {
            var resident = await host.LoadAsync(request.CheckpointKey, request.Dtype, context.CancellationToken);
            logger.LogInformation("Loaded mentor {Key} ({Parameters} parameters)", request.CheckpointKey, resident.Model.ParameterCount);
            return Info(resident);
        }
        catch (ObjectNotFoundException)
        {
            RpcErrors.NotFound($"checkpoint_key: no checkpoint under '{request.CheckpointKey}'.");
            throw;
        }
        catch (InvalidDataException e)
        {
            RpcErrors.InvalidArgument("checkpoint_key", e.Message);
            throw;
        }
    }

    [Authorize(Policy = PlatformRoles.Admin)]
    public override async Task<ModelInfo> Unload(UnloadRequest request, ServerCallContext context)
    {
        await host.UnloadAsync(context.CancellationToken);
        return new ModelInfo { Loaded = false };
    }

    [Authorize(Policy = PlatformRoles.Reader)]
    public override Task<ModelInfo> GetModelInfo(GetModelInfoRequest request, ServerCallContext context) =>
        Task.FromResult(host.Resident is { } resident ? Info(resident) : new ModelInfo { Loaded = false });

    [Authorize(Policy = PlatformRoles.Runner)]
    public override async Task Generate(GenerateRequest request, IServerStreamWriter<GenerateResponse> responseStream, ServerCallContext context)
    {
        var resident = host.Required;
        RpcErrors.Require(request.SamplesPerQuestion is > 0 and <= MaxSamplesPerQuestion, "samples_per_question", $"must be in 1..{MaxSamplesPerQuestion} (got {request.SamplesPerQuestion}).");
        var questions = request.Questions.ToQuestions("questions");
        var options = request.Sampling.ToOptions(request.SamplesPerQuestion, "sampling");
        IReadOnlyList<string>[] outputs;
        using (new InFlightCall("Generate")) outputs = await host.Generator.GenerateAsync(questions, options, context.CancellationToken);
        var sampling = new SamplingSettings(options.Temperature, options.TopK, options.TopP, options.Seed);
        for (int i = 0; i < questions.Count; i++)
        {
            var response = new GenerateResponse { QuestionId = questions[i].Id };
            var rule = AnswerRules.For(questions[i].Task);
            foreach (var output in outputs[i])
            {
                var predicted = rule.Extract(output);
                bool correct = questions[i].Answer.Length > 0 && rule.IsCorrect(predicted, questions[i].Answer);
                response.Rationales.Add(new LibraryRationale(questions[i].Id, CotFormat.RationaleOf(output), predicted, correct, RationaleSource.Mentor,
                    $"mentor:{resident.CheckpointKey}", sampling).ToProto());
            }
            await responseStream.WriteAsync(response, context.CancellationToken);
        }
    }

    [Authorize(Policy = PlatformRoles.Runner)]
    public override async Task<SoftLabelsResponse> GetSoftLabels(SoftLabelsRequest request, ServerCallContext context)
    {
        SoftLabelComputation.Validate(request, host.Required); // fail fast, before queueing
        using var inFlight = new InFlightCall("GetSoftLabels");
        return await host.Worker.RunAsync(() =>
        {
            // Checked again on the model thread: a LoadCheckpoint queued meanwhile may have swapped the mentor.
            var resident = host.Required;
            SoftLabelComputation.Validate(request, resident);
            return SoftLabelComputation.Compute(request, resident);
        }, context.CancellationToken);
    }

    private static ModelInfo Info(ResidentModel resident) => new()
    {
        Loaded = true,
        CheckpointKey = resident.CheckpointKey,
        CheckpointSha256 = resident.CheckpointSha256,
        Parameters = resident.Model.ParameterCount,
        VocabSize = resident.Model.VocabSize,
        ContextLength = resident.Model.ContextLength,
        Tokenizer = resident.Tokenizer.Kind,
        Dtype = resident.DType,
        Device = resident.Device,
    };
}
