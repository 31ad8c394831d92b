using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Tokenization;
using MentorKd.ModelServing;
using static TorchSharp.torch;

namespace MentorKd.MentorServer.OpenAi;

/// <summary>How a completion request decodes: sampling, stop sequences, and how many alternatives each token's
/// log-probability lists (null: no log-probabilities).</summary>
public sealed record CompletionSettings(GenerationOptions Options, IReadOnlyList<string> Stops, int? TopLogprobs);

/// <summary>One choice: its text (cut at the first stop sequence) and the pieces each of its tokens adds to it, why it
/// ended, and its tokens' log-probabilities.</summary>
public sealed record CompletionText(string Text, IReadOnlyList<string> Pieces, string FinishReason, IReadOnlyList<ScoredToken>? Logprobs)
{
    public int CompletionTokens => Pieces.Count;
}

/// <summary>A generated token's text, its log-probability under the model (softmax of the raw logits), and the most
/// likely alternatives at its position.</summary>
public sealed record ScoredToken(string Token, float Logprob, IReadOnlyList<(string Token, float Logprob)> Top);

/// <summary>The result of one prompt: its length in tokens and its choices.</summary>
public sealed record PromptCompletion(int PromptTokens, IReadOnlyList<CompletionText> Choices);

/// <summary>
/// Completes text prompts with the resident model for the OpenAI-compatible endpoints: decoding goes through the
/// mentor-server's batching generator (so these calls share batches with gRPC Generate calls), then each sample is cut at
/// its first stop sequence, and, when asked, scored token by token on the model's thread.
/// </summary>
public sealed class OpenAiGeneration(MentorHost host)
{
    /// <param name="resident">The model the request was read against (its tokenizer cuts and scores the samples).</param>
    public async Task<IReadOnlyList<PromptCompletion>> CompleteAsync(ResidentModel resident, IReadOnlyList<string> prompts, CompletionSettings settings,
        CancellationToken cancellationToken)
    {
        var generated = await host.Generator.ContinueAsync(prompts, settings.Options, cancellationToken);
        var tokenizer = resident.Tokenizer;
        var results = new List<PromptCompletion>();
        for (int p = 0; p < prompts.Count; p++)
        {
            var kept = generated[p].Samples.Select(sample => Cut(tokenizer, sample, settings.Stops)).ToList();
            IReadOnlyList<IReadOnlyList<ScoredToken>>? scores = null;
            if (settings.TopLogprobs is { } top)
            {
                var prompt = prompts[p];
                scores = await host.Worker.RunAsync(() => Score(host.Resident ?? resident, prompt, kept.Select(k => k.Ids).ToList(), top), cancellationToken);
            }
            results.Add(new PromptCompletion(generated[p].PromptTokens,
                kept.Select((k, i) => new CompletionText(k.Text, k.Pieces, k.FinishReason, scores?[i])).ToList()));
        }
        return results;
    }

    /// <summary>The sample up to its first stop sequence, the tokens that make that text and what each adds to it.</summary>
    private static (string Text, string FinishReason, int[] Ids, IReadOnlyList<string> Pieces) Cut(ITokenizer tokenizer, GeneratedSample sample, IReadOnlyList<string> stops)
    {
        int cut = stops.Select(s => sample.Text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        var text = cut < 0 ? sample.Text : sample.Text[..cut];
        var pieces = new List<string>();
        int covered = 0;
        // Each token's piece is what it adds to the decoded prefix (a tokenizer may join tokens with spaces).
        for (int k = 0; k < sample.Ids.Length && covered < text.Length; k++)
        {
            var prefix = tokenizer.Decode(sample.Ids[..(k + 1)]);
            int end = Math.Min(prefix.Length, text.Length);
            pieces.Add(text[covered..end]);
            covered = end;
        }
        var finish = cut >= 0 || sample.EndedAtEndOfText ? "stop" : "length";
        return (text, finish, sample.Ids[..pieces.Count], pieces);
    }

    /// <summary>Teacher-forced log-probabilities of each sample's tokens after the prompt. Runs on the model's thread.</summary>
    private static IReadOnlyList<IReadOnlyList<ScoredToken>> Score(ResidentModel resident, string prompt, IReadOnlyList<int[]> samples, int top)
    {
        var tokenizer = resident.Tokenizer;
        var promptIds = tokenizer.Encode(prompt);
        int vocabulary = resident.Model.VocabSize;
        using var guard = inference_mode();
        var scored = new List<IReadOnlyList<ScoredToken>>();
        foreach (var sample in samples)
        {
            if (sample.Length == 0) { scored.Add([]); continue; }
            using var scope = NewDisposeScope();
            var logProbs = resident.Model.ContinuationLogits(promptIds, sample).to(ScalarType.Float32).log_softmax(-1).cpu();
            var all = logProbs.data<float>().ToArray();
            var (values, indices) = logProbs.topk(Math.Min(Math.Max(top, 1), vocabulary), dim: -1);
            var topValues = values.data<float>().ToArray();
            var topIds = indices.data<long>().ToArray();
            int k = (int)values.shape[1];
            var tokens = new List<ScoredToken>(sample.Length);
            for (int i = 0; i < sample.Length; i++)
            {
                var alternatives = Enumerable.Range(0, top == 0 ? 0 : k)
                    .Select(j => (tokenizer.Decode([(int)topIds[i * k + j]]), topValues[i * k + j])).ToList();
                tokens.Add(new ScoredToken(tokenizer.Decode([sample[i]]), all[i * vocabulary + sample[i]], alternatives));
            }
            scored.Add(tokens);
        }
        return scored;
    }
}

/// <summary>A request the OpenAI-compatible endpoints refuse, as OpenAI reports it: an HTTP status and an error body
/// naming the parameter.</summary>
public sealed class OpenAiException(int status, string message, string? param, string? code = null) : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
}
