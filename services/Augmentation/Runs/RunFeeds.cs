using System.Collections.Concurrent;

namespace MentorKd.Augmentation.Runs;

/// <summary>
/// The progress feeds of the runs this process's state machine has worked on since it started, one per attempt: a run
/// started again, or woken by new questions after it ended, gets a fresh feed, so a watcher sees that attempt from its
/// beginning to its end.
/// </summary>
public sealed class RunFeeds
{
    private readonly ConcurrentDictionary<Guid, RunProgressFeed> _feeds = new();

    /// <summary>The run's feed for the attempt under way, or a new one when there is none or the last has ended.</summary>
    public RunProgressFeed Begin(Guid runId) =>
        _feeds.AddOrUpdate(runId, id => new RunProgressFeed(id), (id, feed) => feed.Ended ? new RunProgressFeed(id) : feed);

    /// <summary>The run's latest feed, if its state machine has worked on it here.</summary>
    public RunProgressFeed? Find(Guid runId) => _feeds.GetValueOrDefault(runId);
}
