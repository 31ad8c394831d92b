using System.Collections.Concurrent;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Evaluation;
using MentorKd.Modeling.Generation;

namespace MentorKd.ModelServing;

/// <summary>
/// Merges concurrent generate calls into one batched decode: each call queues its questions and posts a drain
/// to the model's thread; the first drain to run takes every waiting call with the same decoding options and
/// decodes them together, so N clients asking at once cost about one batch, not N.
/// </summary>
public sealed class BatchingGenerator(ModelWorker worker, Func<ResidentModel> model, int batchSize)
{
    private sealed record Call(IReadOnlyList<Question> Questions, GenerationOptions Options, CancellationToken Cancellation,
        TaskCompletionSource<IReadOnlyList<string>[]> Result)
    {
        // Seeded calls decode alone: their samples must not depend on which other requests arrived at the same time.
        public object BatchKey => Options.Seed is null ? Options : this;
        public bool Abandoned => Result.Task.IsCompleted || Cancellation.IsCancellationRequested;
    }

    private readonly ConcurrentQueue<Call> _waiting = new();

    public async Task<IReadOnlyList<string>[]> GenerateAsync(IReadOnlyList<Question> questions, GenerationOptions options, CancellationToken cancellationToken)
    {
        var call = new Call(questions, options, cancellationToken, new TaskCompletionSource<IReadOnlyList<string>[]>(TaskCreationOptions.RunContinuationsAsynchronously));
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
            var batch = group.ToList();
            var options = batch[0].Options;
            try
            {
                var resident = model();
                var questions = batch.SelectMany(c => c.Questions).ToList();
                var outputs = BatchedDecoding.Run(resident.Model, resident.Tokenizer, questions, options, batchSize);
                int offset = 0;
                foreach (var call in batch)
                {
                    call.Result.TrySetResult(outputs[offset..(offset + call.Questions.Count)]);
                    offset += call.Questions.Count;
                }
            }
            catch (Exception e)
            {
                foreach (var call in batch) call.Result.TrySetException(e);
            }
        }
    }
}
