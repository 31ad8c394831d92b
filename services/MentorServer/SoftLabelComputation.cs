using MentorKd.Modeling.Model;
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
        RpcErrors.Require(double.IsFinite(request.Temperature) && request.Temperature > 0, "temperature", $"must be positive and finite (got {request.Temperature}).");
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

    /// <summary>The most logits one forward pass may hold ([rows, length, vocabulary]; 64 M values = 256 MB in fp32):
    /// a request's sequences go through the mentor together, in as few passes as this allows.</summary>
    private const long MaxLogitsPerPass = 64L << 20;

    /// <summary>Runs on the model's thread. The sequences are batched right-padded: a causal model's positions never
    /// see the padding after them, and an encoder-decoder's encoder is told which prompt positions are padding (one
    /// forward pass per sequence took most of a distillation step's time when the trainer waited for it).</summary>
    public static SoftLabelsResponse Compute(SoftLabelsRequest request, ResidentModel resident)
    {
        var response = new SoftLabelsResponse();
        var model = resident.Model;
        using var guard = inference_mode();
        long longest = request.Sequences.Max(s => s.TokenIds.Count);
        int rowsPerPass = (int)Math.Clamp(MaxLogitsPerPass / (longest * model.VocabSize), 1, request.Sequences.Count);
        int k = request.TopK;
        foreach (var rows in request.Sequences.Chunk(rowsPerPass))
        {
            using var scope = NewDisposeScope();
            var logProbs = Logits(model, rows).to(ScalarType.Float32).DividedBy(request.Temperature).log_softmax(-1);
            var (values, indices) = logProbs.topk(k, dim: -1);
            var top = values.cpu().data<float>().ToArray();
            var ids = indices.cpu().data<long>().ToArray();
            int width = (int)values.shape[1];
            for (int r = 0; r < rows.Length; r++)
            {
                var labels = new SequenceSoftLabels();
                for (int p = rows[r].ScoreFrom; p < rows[r].TokenIds.Count; p++)
                {
                    var position = new PositionSoftLabels();
                    double kept = 0;
                    for (int j = 0, at = (r * width + p) * k; j < k; j++, at++)
                    {
                        position.TokenIds.Add((int)ids[at]);
                        position.LogProbs.Add(top[at]);
                        kept += Math.Exp(top[at]);
                    }
                    position.RemainingMass = (float)Math.Max(0, 1 - kept);
                    labels.Positions.Add(position);
                }
                response.Sequences.Add(labels);
            }
        }
        return response;
    }

    /// <summary>Teacher-forced logits [rows, longest, V] of right-padded sequences (the padding id is any valid one: the
    /// positions it fills are never read).</summary>
    private static Tensor Logits(LanguageModel model, TokenSequence[] rows)
    {
        static Tensor RightPadded(IReadOnlyList<IList<int>> sequences, Device device, out Tensor mask)
        {
            int width = sequences.Max(s => s.Count);
            var ids = new long[sequences.Count * width];
            var real = new long[sequences.Count * width];
            for (int r = 0; r < sequences.Count; r++)
                for (int c = 0; c < sequences[r].Count; c++)
                    (ids[r * width + c], real[r * width + c]) = (sequences[r][c], 1);
            mask = tensor(real, [sequences.Count, width], device: device);
            return tensor(ids, [sequences.Count, width], device: device);
        }

        var decoderIds = RightPadded(rows.Select(s => (IList<int>)s.TokenIds).ToList(), model.Device, out _);
        if (!model.IsEncoderDecoder) return model.Logits(decoderIds);
        var encoderIds = RightPadded(rows.Select(s => (IList<int>)s.EncoderTokenIds).ToList(), model.Device, out var encoderMask);
        return model.Logits(decoderIds, encoderIds, encoderMask);
    }
}
