using System.Collections.Concurrent;
using System.Threading.Channels;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace MentorKd.Trainer.Jobs;

/// <summary>Jobs by id, and the bounded queue the runner takes them from. Starting a known id returns that job (idempotent).</summary>
public sealed class TrainingJobQueue(IOptions<TrainerOptions> options)
{
    private readonly ConcurrentDictionary<string, TrainingJobRecord> _jobs = new();
    private readonly Channel<TrainingJobRecord> _queue = Channel.CreateBounded<TrainingJobRecord>(options.Value.QueueCapacity);

    public ChannelReader<TrainingJobRecord> Reader => _queue.Reader;

    public TrainingJobRecord Enqueue(string jobId, StartTrainingJobRequest request)
    {
        var record = new TrainingJobRecord(jobId, request);
        var existing = _jobs.GetOrAdd(jobId, record);
        if (!ReferenceEquals(existing, record)) return existing;
        if (!_queue.Writer.TryWrite(record))
        {
            _jobs.TryRemove(jobId, out _);
            throw new QueueFullException($"{options.Value.QueueCapacity} training jobs are already waiting; retry later.");
        }
        return record;
    }

    public TrainingJobRecord? Find(string jobId) => _jobs.GetValueOrDefault(jobId);
}
