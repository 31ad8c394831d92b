using System.CommandLine;
using System.Text.Json;
using MentorKd.Modeling.Checkpoints;
using static TorchSharp.torch;

namespace MentorKd.Cli.Commands;

/// <summary><c>mentorkd lm score</c>: per-token log-probabilities of a text (after an optional prompt; an encoder-decoder's
/// encoder reads the prompt), and the model's top next tokens after it.</summary>
internal static class LmScoreCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder.", Required = true };
        var text = new Option<string>("--text") { Description = "Text to score.", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "Text the scored text follows (what an encoder-decoder's encoder reads; required for one)." };
        var top = new Option<int>("--top") { Description = "How many next-token candidates to list.", DefaultValueFactory = _ => 10 };

        var command = new Command("score", "Print per-token log-probabilities and the final position's top logits as JSON.") { model, text, prompt, top };
        RuntimeOptions.AddTo(command);
        command.SetAction(result => RuntimeOptions.Guarded(() =>
        {
            var device = RuntimeOptions.Apply(result);
            var (lm, tokenizer) = ModelCheckpoints.Load(result.GetValue(model)!, device);
            using var _ = lm;
            int k = result.GetValue(top);
            if (k <= 0) throw new ArgumentException("--top must be positive.", "top");

            var promptIds = tokenizer.Encode(result.GetValue(prompt) ?? "");
            if (lm.IsEncoderDecoder && promptIds.Length == 0) throw new ArgumentException("--prompt is required for an encoder-decoder: its encoder reads it.", "prompt");
            // A decoder-only model reads the end-of-text token first, so the first scored token has something before it.
            if (!lm.IsEncoderDecoder) promptIds = [tokenizer.EndOfTextId, .. promptIds];
            var ids = tokenizer.Encode(result.GetValue(text)!);
            if (!lm.IsEncoderDecoder && promptIds.Length + ids.Length > lm.ContextLength)
                throw new ArgumentException($"--prompt and --text are {promptIds.Length + ids.Length} tokens; the model's context is {lm.ContextLength}.", "text");

            using var guard = inference_mode();
            using var scope = NewDisposeScope();
            // One position more than the text: the last predicts what follows it.
            var logits = lm.ContinuationLogits(promptIds, [.. ids, tokenizer.EndOfTextId]).to(ScalarType.Float32).cpu();
            var logProbs = logits.log_softmax(-1);
            var tokens = Enumerable.Range(0, ids.Length).Select(i => new
            {
                position = i,
                id = ids[i],
                token = tokenizer.Decode([ids[i]]),
                logprob = logProbs[i, ids[i]].item<float>(),
            }).ToList();
            var (values, indices) = logits[-1].topk(Math.Min(k, (int)logits.shape[1]));
            var next = Enumerable.Range(0, (int)values.shape[0]).Select(i =>
            {
                int id = (int)indices[i].item<long>();
                return new { id, token = tokenizer.Decode([id]), logit = values[i].item<float>(), logprob = logProbs[-1, id].item<float>() };
            }).ToList();
            var report = new { tokens, total_logprob = tokens.Sum(t => t.logprob), next_token_top = next };
            Console.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }));
        return command;
    }
}
