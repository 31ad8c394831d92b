using System.Collections.Concurrent;
using System.Threading.Channels;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.Protos.V1;

namespace MentorKd.Augmentation.Runs;

/// <summary>The training jobs this process waits for, and the trainers' events about them: progress and the end
/// reach the run that sent the job, whichever trainer replica trains it. Events for jobs nobody follows here are
/// dropped (a run that starts following again re-sends its job, which answers with the job's end if it is over).</summary>
public sealed class TrainingJobFollowers
{
    private readonly ConcurrentDictionary<string, Channel<TrainingJobUpdate>> _followed = new();

    /// <summary>Updates for <paramref name="jobId"/> until disposed.</summary>
    public Follower Follow(string jobId)
    {
        var updates = Channel.CreateUnbounded<TrainingJobUpdate>(new UnboundedChannelOptions { SingleReader = true });
        _followed[jobId] = updates;
        return new Follower(updates.Reader, () => _followed.TryRemove(new KeyValuePair<string, Channel<TrainingJobUpdate>>(jobId, updates)));
    }

    public void Deliver(string jobId, TrainingJobUpdate update)
    {
        if (_followed.TryGetValue(jobId, out var updates)) updates.Writer.TryWrite(update);
    }

    public sealed class Follower(ChannelReader<TrainingJobUpdate> updates, Action stop) : IDisposable
    {
        public ChannelReader<TrainingJobUpdate> Updates { get; } = updates;

        public void Dispose() => stop();
    }
}

/// <summary>A job's progress, or its end (completed, failed or cancelled).</summary>
public sealed record TrainingJobUpdate(TrainingProgress? Progress, TrainingJob? Ended);

/// <summary>The trainers' job events, handed to the runs following those jobs.</summary>
public sealed class TrainingJobEventsConsumer(TrainingJobFollowers followers) : IConsumer<TrainingJobProgressed>, IConsumer<TrainingJobEnded>
{
    public Task Consume(ConsumeContext<TrainingJobProgressed> context)
    {
        followers.Deliver(context.Message.JobId, new TrainingJobUpdate(context.Message.ReadProgress(), null));
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<TrainingJobEnded> context)
    {
        followers.Deliver(context.Message.JobId, new TrainingJobUpdate(null, context.Message.ReadJob()));
        return Task.CompletedTask;
    }
}
