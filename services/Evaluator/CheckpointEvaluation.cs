using System.Text;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Evaluation;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;
using MentorKd.Storage;
using MentorKd.Modeling.Runtime;
using LibraryEvaluator = MentorKd.Distillation.Evaluation.Evaluator;
using EvaluatedExample = MentorKd.Protos.V1.EvaluatedExample;
using Question = MentorKd.Distillation.Data.Question;

namespace MentorKd.Evaluator;

/// <summary>Evaluates a stored checkpoint on a stored question set and optionally stores the per-example JSONL: the
/// one path behind the gRPC Evaluate call and the evaluate-checkpoint queue. Bad requests fail naming the field.</summary>
public sealed class CheckpointEvaluation(CheckpointUnderTest checkpoint, IObjectStore store)
{
    public async Task<EvaluationReport> EvaluateAsync(EvaluateRequest request, CancellationToken cancellationToken)
    {
        RpcErrors.RequireKey(request.CheckpointKey, "checkpoint_key");
        RpcErrors.RequireKey(request.DatasetKey, "dataset_key");
        if (request.ReportKey.Length > 0) RpcErrors.RequireKey(request.ReportKey, "report_key");
        RpcErrors.Require(request.MaxNewTokens >= 0, "max_new_tokens", $"must not be negative (got {request.MaxNewTokens}).");
        RpcErrors.Require(request.BatchSize >= 0, "batch_size", $"must not be negative (got {request.BatchSize}).");
        RpcErrors.Require(request.Dtype is "" || TorchRuntime.DTypes.Contains(request.Dtype), "dtype", $"'{request.Dtype}' is not {string.Join(" or ", TorchRuntime.DTypes)}.");
        RpcErrors.Require(request.Samples is >= 0 and <= AnswerSampling.MaxSamples, "samples", $"must be in 0..{AnswerSampling.MaxSamples} (got {request.Samples}).");
        RpcErrors.Require(double.IsFinite(request.Temperature) && request.Temperature >= 0, "temperature", $"must be 0 (the default, 0.7) or positive (got {request.Temperature}).");
        var sampling = request.Samples > 1 ? new AnswerSampling(request.Samples, request.Temperature > 0 ? request.Temperature : 0.7, request.Seed) : null;

        var questions = await ReadQuestionsAsync(request.DatasetKey, cancellationToken);
        int maxNewTokens = request.MaxNewTokens == 0 ? 128 : request.MaxNewTokens, batchSize = request.BatchSize == 0 ? 64 : request.BatchSize;
        Distillation.Evaluation.EvaluationResult result;
        try
        {
            result = await checkpoint.WithModelAsync(request.CheckpointKey, request.Dtype is "" ? "float32" : request.Dtype, resident => LibraryEvaluator.Evaluate(resident.Model, resident.Tokenizer, questions, maxNewTokens, batchSize, sampling), cancellationToken);
        }
        catch (ObjectNotFoundException)
        {
            RpcErrors.NotFound($"checkpoint_key: no checkpoint under '{request.CheckpointKey}'.");
            throw;
        }

        var report = new EvaluationReport { Accuracy = result.Accuracy, Correct = result.Correct, Total = result.Total };
        report.Examples.AddRange(result.Examples.Select(e => new EvaluatedExample { QuestionId = e.QuestionId, Gold = e.Gold, Output = e.Output, Predicted = e.Predicted, Correct = e.Correct,
            Samples = e.Samples, SamplesCorrect = e.SamplesCorrect }));
        if (request.ReportKey.Length > 0)
        {
            var jsonl = string.Join("\n", result.Examples.Select(e => System.Text.Json.JsonSerializer.Serialize(e, JsonLines.Options))) + "\n";
            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(jsonl));
            var info = await store.PutAsync(request.ReportKey, stream, cancellationToken);
            report.Report = new ObjectRef { Key = info.Key, Sha256 = info.Sha256, SizeBytes = info.Size };
        }
        return report;
    }

    private async Task<IReadOnlyList<Question>> ReadQuestionsAsync(string key, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        try { await store.GetAsync(key, buffer, cancellationToken); }
        catch (ObjectNotFoundException) { RpcErrors.NotFound($"dataset_key: no dataset at '{key}'."); }
        try
        {
            var questions = JsonLines.Parse<Question>(Encoding.UTF8.GetString(buffer.ToArray()).Split('\n'), key);
            RpcErrors.Require(questions.Count > 0, "dataset_key", $"'{key}' holds no questions.");
            return questions;
        }
        catch (InvalidDataException e)
        {
            RpcErrors.InvalidArgument("dataset_key", $"'{key}' is not a JSONL of questions ({e.Message}).");
            throw;
        }
    }
}
