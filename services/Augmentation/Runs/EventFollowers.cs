using System.Collections.Concurrent;
using System.Threading.Channels;

namespace MentorKd.Augmentation.Runs;

/// <summary>Work this process sent to another service's queue and waits for, by id: the service's events about it
/// (progress, the outcome) reach the run that sent it, whichever replica did the work. Events for ids nobody follows
/// here are dropped (a run that starts following again sends its work again, which answers with the outcome when the
/// work is already done).</summary>
public sealed class EventFollowers<TUpdate>
{
    private readonly ConcurrentDictionary<string, Channel<TUpdate>> _followed = new();

    /// <summary>Updates for <paramref name="id"/> until disposed. Follow before sending, so nothing slips by.</summary>
    public Follower Follow(string id)
    {
        var updates = Channel.CreateUnbounded<TUpdate>(new UnboundedChannelOptions { SingleReader = true });
        _followed[id] = updates;
        return new Follower(updates.Reader, () => _followed.TryRemove(new KeyValuePair<string, Channel<TUpdate>>(id, updates)));
    }

    public void Deliver(string id, TUpdate update)
    {
        if (_followed.TryGetValue(id, out var updates)) updates.Writer.TryWrite(update);
    }

    public sealed class Follower(ChannelReader<TUpdate> updates, Action stop) : IDisposable
    {
        public ChannelReader<TUpdate> Updates { get; } = updates;

        public void Dispose() => stop();
    }
}
