using System.Collections.Concurrent;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Evaluation;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Generation;

namespace MentorKd.ModelServing;

/// <summary>
/// Merges concurrent generate calls into one batched decode: each call queues its prompts and posts a drain
/// to the model's thread; the first drain to run takes every waiting call with the same decoding options and
/// decodes them together, so N clients asking at once cost about one batch, not N.
/// </summary>
public sealed class BatchingGenerator(ModelWorker worker, Func<ResidentModel> model, int batchSize)
{
    private sealed record Call(IReadOnlyList<string> Prompts, GenerationOptions Options, CancellationToken Cancellation,
        TaskCompletionSource<GeneratedPrompt[]> Result)
    {
        // Seeded calls decode alone: their samples must not depend on which other requests arrived at the same time.
        public object BatchKey => Options.Seed is null ? Options : this;
        public bool Abandoned => Result.Task.IsCompleted || Cancellation.IsCancellationRequested;
    }

    private readonly ConcurrentQueue<Call> _waiting = new();

    /// <returns>For each question, the decoded samples of its chain-of-thought prompt.</returns>
    public async Task<IReadOnlyList<string>[]> GenerateAsync(IReadOnlyList<Question> questions, GenerationOptions options, CancellationToken cancellationToken)
    {
        var generated = await ContinueAsync(questions.Select(CotFormat.Prompt).ToList(), options, cancellationToken);
        return generated.Select(p => (IReadOnlyList<string>)p.Samples.Select(s => s.Text).ToList()).ToArray();
    }

    /// <returns>For each prompt text, its continuations. A prompt that leaves no room in the model's context fails only
    /// its own call (<see cref="ArgumentException"/>), not the others decoded with it.</returns>
    public async Task<GeneratedPrompt[]> ContinueAsync(IReadOnlyList<string> prompts, GenerationOptions options, CancellationToken cancellationToken)
    {
        var call = new Call(prompts, options, cancellationToken, new TaskCompletionSource<GeneratedPrompt[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        _waiting.Enqueue(call);
        try
        {
            await worker.RunAsync(Drain, cancellationToken);
        }
        catch
        {
            // Rejected (queue full) or cancelled: make sure no later drain decodes this call for nobody.
            call.Result.TrySetCanceled();
            throw;
        }
        return await call.Result.Task.WaitAsync(cancellationToken);
    }

    private void Drain()
    {
        var calls = new List<Call>();
        while (_waiting.TryDequeue(out var call))
            if (!call.Abandoned) calls.Add(call);
        foreach (var group in calls.GroupBy(c => c.BatchKey))
        {
            var batch = new List<(Call Call, int[][] Prompts)>();
            ResidentModel resident;
            try
            {
                resident = model();
            }
            catch (Exception e)
            {
                foreach (var call in group) call.Result.TrySetException(e);
                continue;
            }
            // Tokenized here, on the model's thread: the resident model (and its tokenizer) may have been swapped since the call queued.
            foreach (var call in group)
            {
                var encoded = call.Prompts.Select(resident.Tokenizer.Encode).ToArray();
                int context = resident.Model.ContextLength;
                int tooLong = Array.FindIndex(encoded, p => p.Length == 0 || p.Length >= context);
                if (tooLong >= 0)
                    call.Result.TrySetException(new ArgumentException(
                        $"prompt {tooLong} is {encoded[tooLong].Length} tokens: it must be at least 1 and leave room in the model's {context}-token context."));
                else batch.Add((call, encoded));
            }
            if (batch.Count == 0) continue;
            try
            {
                var prompts = batch.SelectMany(c => c.Prompts).ToList();
                var outputs = BatchedDecoding.Continue(resident.Model, resident.Tokenizer, prompts, batch[0].Call.Options, batchSize);
                int offset = 0;
                foreach (var (call, encoded) in batch)
                {
                    call.Result.TrySetResult(encoded.Select((prompt, i) => new GeneratedPrompt(prompt.Length,
                        outputs[offset + i].Select(s => new GeneratedSample(resident.Tokenizer.Decode(s.Ids), s.Ids, s.EndedAtEndOfText)).ToList())).ToArray());
                    offset += encoded.Length;
                }
            }
            catch (Exception e)
            {
                foreach (var (call, _) in batch) call.Result.TrySetException(e);
            }
        }
    }
}

/// <summary>What one prompt became: its length in tokens and its samples.</summary>
public sealed record GeneratedPrompt(int PromptTokens, IReadOnlyList<GeneratedSample> Samples);

/// <summary>One continuation: its text, its token ids, and whether the model ended it (otherwise it ran out of tokens).</summary>
public sealed record GeneratedSample(string Text, int[] Ids, bool EndedAtEndOfText);
