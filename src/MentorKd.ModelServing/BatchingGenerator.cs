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
    private sealed record Call(IReadOnlyList<Question> Questions, GenerationOptions Options, TaskCompletionSource<IReadOnlyList<string>[]> Result);

    private readonly ConcurrentQueue<Call> _waiting = new();

    public async Task<IReadOnlyList<string>[]> GenerateAsync(IReadOnlyList<Question> questions, GenerationOptions options, CancellationToken cancellationToken)
    {
        var call = new Call(questions, options, new TaskCompletionSource<IReadOnlyList<string>[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        _waiting.Enqueue(call);
        await worker.RunAsync(Drain, cancellationToken);
        return await call.Result.Task.WaitAsync(cancellationToken);
    }

    private void Drain()
    {
        var calls = new List<Call>();
        while (_waiting.TryDequeue(out var call)) calls.Add(call);
        foreach (var group in calls.GroupBy(c => c.Options))
        {
            var batch = group.ToList();
            try
            {
                var resident = model();
                var questions = batch.SelectMany(c => c.Questions).ToList();
                var outputs = BatchedDecoding.Run(resident.Model, resident.Tokenizer, questions, group.Key, batchSize);
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
