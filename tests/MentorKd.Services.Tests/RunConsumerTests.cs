using MassTransit;
using MassTransit.Testing;
using MentorKd.Augmentation.Runs;
using MentorKd.Contracts;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

/// <summary>Delivery is at least once: the run consumers must do their work once however often a message arrives.</summary>
public class RunConsumerTests
{
    [Fact]
    public async Task RunSubmitted_delivered_twice_queues_the_run_once_and_a_retry_after_it_ended_queues_it_again()
    {
        await using var provider = new ServiceCollection()
            .AddSingleton<LiveRuns>()
            .AddMassTransitTestHarness(x => x.AddConsumer<RunSubmittedConsumer>())
            .BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var live = provider.GetRequiredService<LiveRuns>();
        var id = NewId.NextGuid();
        var message = new RunSubmitted(id, "twice", $"runs/{id}/config.json", DateTime.UtcNow);

        await harness.Bus.Publish(message);
        await harness.Bus.Publish(message);
        Assert.True(await harness.Consumed.Any<RunSubmitted>(x => x.Context.Message.CorrelationId == id));
        await WaitForAsync(() => harness.Consumed.Select<RunSubmitted>().Count() == 2);
        Assert.Equal(1, Drain(live));

        // Once that attempt has ended, submitting again is a retry and queues the run anew.
        // The duplicate only asked the working attempt to look for more work once more before it finishes.
        Assert.False(live.Find(id)!.TryFinish());
        Assert.True(live.Find(id)!.TryFinish());
        await harness.Bus.Publish(message);
        await WaitForAsync(() => harness.Consumed.Select<RunSubmitted>().Count() == 3);
        Assert.Equal(1, Drain(live));
    }

    [Fact]
    public async Task A_cancellation_delivered_twice_cancels_once_and_leaves_other_runs_alone()
    {
        await using var provider = new ServiceCollection()
            .AddSingleton<LiveRuns>()
            .AddMassTransitTestHarness(x => x.AddConsumer<RunCancellationConsumer>())
            .BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var live = provider.GetRequiredService<LiveRuns>();
        Guid cancelled = NewId.NextGuid(), other = NewId.NextGuid();
        live.TryBegin(cancelled);
        live.TryBegin(other);

        var message = new RunCancellationRequested(cancelled, "twice");
        await harness.Bus.Publish(message);
        await harness.Bus.Publish(message);
        await harness.Bus.Publish(new RunCancellationRequested(NewId.NextGuid(), "unknown run"));
        await WaitForAsync(() => harness.Consumed.Select<RunCancellationRequested>().Count() == 3);
        Assert.False(await harness.Consumed.Any<Fault<RunCancellationRequested>>());
        Assert.True(live.Find(cancelled)!.Cancellation.IsCancellationRequested);
        Assert.False(live.Find(other)!.Cancellation.IsCancellationRequested);
    }

    [Fact]
    public async Task The_same_questions_added_twice_record_one_round_request_and_queue_the_run_once()
    {
        var root = Path.Combine(Path.GetTempPath(), "mentorkd-service-tests", Guid.NewGuid().ToString("N"));
        var store = new FileSystemObjectStore(root);
        await using var provider = new ServiceCollection()
            .AddSingleton<LiveRuns>()
            .AddSingleton<IObjectStore>(store)
            .AddLogging()
            .AddMassTransitTestHarness(x =>
            {
                x.AddConsumer<RunQuestionsAddedConsumer>();
                x.AddSagaStateMachine<RunStateMachine, RunState>().InMemoryRepository();
            })
            .BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var live = provider.GetRequiredService<LiveRuns>();
        var id = NewId.NextGuid();
        var keys = new RunKeys(id);
        await store.PutAsync(keys.Config, new MemoryStream("{}"u8.ToArray()));
        var message = new RunQuestionsAdded(id, keys.Incoming + "new.jsonl", new string('a', 64), "test");

        await harness.Bus.Publish(message);
        await harness.Bus.Publish(message);
        await WaitForAsync(() => harness.Consumed.Select<RunQuestionsAdded>().Count() == 2);
        await Task.Delay(300);
        var requests = new List<string>();
        await foreach (var info in store.ListAsync(keys.RoundRequests)) requests.Add(info.Key);
        Assert.Equal([keys.RoundRequest(new string('a', 64))], requests);
        Assert.Equal(1, Drain(live));

        // Questions for a run that does not exist are ignored.
        await harness.Bus.Publish(message with { CorrelationId = NewId.NextGuid() });
        await WaitForAsync(() => harness.Consumed.Select<RunQuestionsAdded>().Count() == 3);
        Assert.False(await harness.Consumed.Any<Fault<RunQuestionsAdded>>());
        Assert.Equal(0, Drain(live));
    }

    private static int Drain(LiveRuns live)
    {
        int count = 0;
        while (live.Queue.TryRead(out _)) count++;
        return count;
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (int i = 0; i < 200 && !condition(); i++) await Task.Delay(25);
        Assert.True(condition());
    }
}
