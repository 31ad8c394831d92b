using MentorKd.Modeling.Runtime;
using MentorKd.ModelServing;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;
using static TorchSharp.torch;

namespace MentorKd.MentorServer;

/// <summary>
/// Top-k next-token log-probabilities of softmax(z / T) for teacher-forced sequences, plus the probability mass
/// left outside the top k — enough for a trainer in another process to form the soft-label term.
/// </summary>
public static class SoftLabelComputation
{
    public static void Validate(SoftLabelsRequest request, ResidentModel resident)
    {
        RpcErrors.Require(request.Sequences.Count > 0, "sequences", "at least one sequence is required.");
        RpcErrors.Require(request.TopK > 0 && request.TopK <= resident.Model.VocabSize, "top_k", $"must be in 1..{resident.Model.VocabSize} (got {request.TopK}).");
        RpcErrors.Require(request.Temperature > 0, "temperature", $"must be positive (got {request.Temperature}).");
        for (int s = 0; s < request.Sequences.Count; s++)
        {
            var sequence = request.Sequences[s];
            RpcErrors.Require(sequence.TokenIds.Count > 0, $"sequences[{s}].token_ids", "is empty.");
            RpcErrors.Require(sequence.TokenIds.Count <= resident.Model.ContextLength, $"sequences[{s}].token_ids",
                $"has {sequence.TokenIds.Count} tokens; the mentor's context is {resident.Model.ContextLength}.");
            RpcErrors.Require(sequence.TokenIds.All(t => t >= 0 && t < resident.Model.VocabSize), $"sequences[{s}].token_ids",
                $"holds an id outside 0..{resident.Model.VocabSize - 1}.");
            RpcErrors.Require(sequence.ScoreFrom >= 0 && sequence.ScoreFrom < sequence.TokenIds.Count, $"sequences[{s}].score_from",
                $"must be in 0..{sequence.TokenIds.Count - 1} (got {sequence.ScoreFrom}).");
            // An encoder-decoder mentor reads the prompt with its encoder; a decoder-only one has it in token_ids.
            RpcErrors.Require(resident.Model.IsEncoderDecoder == sequence.EncoderTokenIds.Count > 0, $"sequences[{s}].encoder_token_ids",
                resident.Model.IsEncoderDecoder ? "is empty: the mentor is an encoder-decoder and needs the prompt here." : "is set: the mentor is decoder-only.");
            RpcErrors.Require(sequence.EncoderTokenIds.Count <= resident.Model.ContextLength, $"sequences[{s}].encoder_token_ids",
                $"has {sequence.EncoderTokenIds.Count} tokens; the mentor reads prompts of at most {resident.Model.ContextLength}.");
            RpcErrors.Require(sequence.EncoderTokenIds.All(t => t >= 0 && t < resident.Model.VocabSize), $"sequences[{s}].encoder_token_ids",
                $"holds an id outside 0..{resident.Model.VocabSize - 1}.");
        }
    }

    /// <summary>Runs on the model's thread.</summary>
    public static SoftLabelsResponse Compute(SoftLabelsRequest request, ResidentModel resident)
    {
        var response = new SoftLabelsResponse();
        using var guard = inference_mode();
        foreach (var sequence in request.Sequences)
        {
            using var scope = NewDisposeScope();
            Tensor Row(IEnumerable<int> ids) => tensor(ids.Select(t => (long)t).ToArray(), device: resident.Model.Device).unsqueeze(0);
            var logits = resident.Model.Logits(Row(sequence.TokenIds), sequence.EncoderTokenIds.Count > 0 ? Row(sequence.EncoderTokenIds) : null);
            var logProbs = logits[0].to(ScalarType.Float32).DividedBy(request.Temperature).log_softmax(-1).cpu();
            var (values, indices) = logProbs[sequence.ScoreFrom..].topk(request.TopK, dim: -1);
            var top = values.data<float>().ToArray();
            var idx = indices.data<long>().ToArray();
            var labels = new SequenceSoftLabels();
            int k = request.TopK;
            for (int p = 0; p < top.Length / k; p++)
            {
                var position = new PositionSoftLabels();
                double kept = 0;
                for (int j = 0; j < k; j++)
                {
                    position.TokenIds.Add((int)idx[p * k + j]);
                    position.LogProbs.Add(top[p * k + j]);
                    kept += Math.Exp(top[p * k + j]);
                }
                position.RemainingMass = (float)Math.Max(0, 1 - kept);
                labels.Positions.Add(position);
            }
            response.Sequences.Add(labels);
        }
        return response;
    }
}
