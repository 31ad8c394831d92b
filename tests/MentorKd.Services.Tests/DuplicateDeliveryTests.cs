using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.Embedded;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults.Telemetry;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace MentorKd.Services.Tests;

/// <summary>
/// At-least-once delivery, made to happen: every stage's command is delivered a second time while its first copy is
/// being worked on, and every stage's result a second time a few seconds later, after the run has moved on (out of
/// order). The run completes once, each stage's work is done once, and nothing it stored is rewritten.
/// </summary>
public class DuplicateDeliveryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_run_whose_every_command_arrives_twice_and_every_result_again_late_completes_once_with_no_work_done_twice()
    {
        var config = EmbeddedTestRuns.Tiny();
        await using var platform = await EmbeddedTestRuns.StartAsync(EmbeddedTestRuns.NewDataRoot(), config);
        var runId = Guid.NewGuid();
        using var work = new WorkSpans(runId.ToString("D"));
        var duplicator = new Duplicator(platform.Services.GetRequiredService<IBus>(), runId.ToString("D"));
        using var observing = platform.Services.GetRequiredService<IBus>().ConnectConsumeObserver(duplicator);
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);
        var events = new List<RunEvent>();

        var run = await RunSession.RunAsync(runs, runId, config, e => { lock (events) events.Add(e); });
        Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}");
        var store = platform.Services.GetRequiredService<IObjectStore>();
        var atCompletion = await SnapshotAsync(store, $"runs/{run.RunId}/");

        // Every duplicate has been delivered and handled before the checks (the last results' copies come late).
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!duplicator.AllHandled && DateTime.UtcNow < deadline) await Task.Delay(250);
        Assert.True(duplicator.AllHandled, $"duplicates sent {duplicator.Summary}, not all handled");
        await Task.Delay(1000);

        foreach (var type in new[] { nameof(AnnotateQuestions), nameof(TrainModel), nameof(AugmentQuestions), nameof(EvaluateCheckpoint),
                     nameof(QuestionsAnnotated), nameof(TrainingJobEnded), nameof(QuestionsAugmented), nameof(CheckpointEvaluated) })
            Assert.True(duplicator.Handled(type) > 0, $"no duplicate {type} was delivered: {duplicator.Summary}");
        // The run moved through each stage once: one completion per stage, one end.
        lock (events)
        {
            // (The evaluation stage reports each checkpoint's completion: an event is told apart by its stage and message.)
            var completions = events.Where(e => e.Kind == RunEventKind.StageCompleted).GroupBy(e => $"{e.Stage}: {e.Message}").Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            Assert.True(completions.Count == 0, $"stages completed more than once: {string.Join(", ", completions)}");
        }
        var ended = await EventsAfterAsync(runs, run.RunId);
        Assert.Equal(1, ended.Count(e => e.Kind == RunEventKind.RunEnded));
        // Work answered from its records the second time: the teacher was asked, the mentor sampled and each model trained once.
        var done = work.Completed();
        foreach (var (kind, ids) in done.Where(d => d.Key.Kind != "evaluation").GroupBy(d => d.Key.Kind).Select(g => (g.Key, g.ToList())))
            Assert.True(ids.All(d => d.Value == 1), $"{kind} done twice: {string.Join(", ", ids.Where(d => d.Value > 1).Select(d => d.Key.Id))}");
        Assert.Equal(config.Arms.Count + 1, done.Count(d => d.Key.Kind == "training"));
        // Nothing the run stored was rewritten by a late copy (an evaluation done again is deterministic: same bytes).
        Assert.Equal(atCompletion, await SnapshotAsync(store, $"runs/{run.RunId}/"));
        var report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        Assert.Equal(config.Arms.Order(), report.Arms.Select(a => a.Arm).Order());

        output.WriteLine($"FAULT | every command delivered twice, every result again {Duplicator.Lateness.TotalSeconds:0} s late ({duplicator.Summary}) | completed once | " +
            $"work done once: {string.Join(", ", done.GroupBy(d => d.Key.Kind).Select(g => $"{g.Key} {g.Count()}×{g.Max(x => x.Value)}"))}; stored objects unchanged");
    }

    private static async Task<Dictionary<string, string>> SnapshotAsync(IObjectStore store, string prefix)
    {
        var objects = new Dictionary<string, string>();
        await foreach (var info in store.ListAsync(prefix)) objects[info.Key] = info.Sha256;
        return objects;
    }

    /// <summary>The run's events from a fresh WatchRun (its history, then nothing more once it ended).</summary>
    private static async Task<List<RunEvent>> EventsAfterAsync(Protos.V1.Runs.RunsClient runs, string runId)
    {
        var events = new List<RunEvent>();
        using var watch = runs.WatchRun(new WatchRunRequest { RunId = runId }, deadline: DateTime.UtcNow.AddSeconds(5));
        try
        {
            await foreach (var e in watch.ResponseStream.ReadAllAsync()) events.Add(e);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.DeadlineExceeded) { }
        return events;
    }

    /// <summary>Sends each of a run's stage commands again as its first copy is taken, and publishes each result again late.</summary>
    private sealed class Duplicator(IBus bus, string runId) : IConsumeObserver
    {
        public static readonly TimeSpan Lateness = TimeSpan.FromSeconds(3);
        private const string Header = "x-test-duplicate";
        private readonly ConcurrentDictionary<string, byte> _duplicated = new();
        private readonly ConcurrentDictionary<string, int> _sent = new(), _handled = new();
        /// <summary>Copies sent and not yet consumed, by the id their header carries.</summary>
        private readonly ConcurrentDictionary<string, string> _pending = new();

        public bool AllHandled => _pending.IsEmpty;
        public int Handled(string type) => _handled.GetValueOrDefault(type);
        public string Summary => string.Join(", ", _sent.OrderBy(s => s.Key).Select(s => $"{s.Key} {_handled.GetValueOrDefault(s.Key)}/{s.Value}"));

        public async Task PreConsume<T>(ConsumeContext<T> context) where T : class
        {
            if (context.Headers.Get<string>(Header) is not null || WorkOf(context.Message) is not (true, var id) || !First(context, id)) return;
            var queue = await bus.GetSendEndpoint(context.ReceiveContext.InputAddress);
            var copy = Copy<T>();
            await queue.Send(context.Message, c => c.Headers.Set(Header, copy));
        }

        public Task PostConsume<T>(ConsumeContext<T> context) where T : class
        {
            // A copy counts once when first consumed: a published one reaches several consumers, and what a service sends
            // while consuming a copy carries its header on.
            if (context.Headers.Get<string>(Header) is { } consumed)
            {
                if (_pending.TryRemove(consumed, out var type)) _handled.AddOrUpdate(type, 1, (_, n) => n + 1);
                return Task.CompletedTask;
            }
            if (WorkOf(context.Message) is (false, var id) && First(context, id))
            {
                var copy = Copy<T>();
                _ = Task.Run(async () =>
                {
                    await Task.Delay(Lateness);
                    await bus.Publish(context.Message, c => c.Headers.Set(Header, copy));
                });
            }
            return Task.CompletedTask;
        }

        public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => PostConsume(context);

        private string Copy<T>()
        {
            var copy = Guid.NewGuid().ToString("N");
            _pending[copy] = typeof(T).Name;
            return copy;
        }

        /// <summary>Once per message type and work id (a result has several consumers; a paused job's command comes back).</summary>
        private bool First<T>(ConsumeContext<T> context, string id) where T : class
        {
            if (!id.StartsWith(runId, StringComparison.Ordinal) || !_duplicated.TryAdd($"{typeof(T).Name}/{id}", 0)) return false;
            _sent.AddOrUpdate(typeof(T).Name, 1, (_, n) => n + 1);
            return true;
        }

        /// <summary>Whether a message is a stage's command (true) or result (false), and the work it names.</summary>
        private static (bool Command, string Id)? WorkOf(object message) => message switch
        {
            AnnotateQuestions m => (true, m.AnnotationId),
            TrainModel m => (true, m.JobId),
            AugmentQuestions m => (true, m.AugmentationId),
            EvaluateCheckpoint m => (true, m.EvaluationId),
            SynthesizeProblems m => (true, m.SynthesisId),
            QuestionsAnnotated m => (false, m.AnnotationId),
            TrainingJobEnded m => (false, m.JobId),
            QuestionsAugmented m => (false, m.AugmentationId),
            CheckpointEvaluated m => (false, m.EvaluationId),
            ProblemsSynthesized m => (false, m.SynthesisId),
            _ => null,
        };
    }

    /// <summary>The platform's work spans (one per piece of queued work a service did) for one run, by kind and id.</summary>
    private sealed class WorkSpans : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly ConcurrentQueue<(string Kind, string Id, string Outcome)> _spans = new();

        public WorkSpans(string runId)
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == PlatformTelemetry.Name, // a constant: reading Activities here would run its type initializer from inside its own
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
                ActivityStopped = activity =>
                {
                    if (activity.GetTagItem("mentorkd.work.id") is string id && id.StartsWith(runId, StringComparison.Ordinal))
                        _spans.Enqueue((activity.OperationName, id, activity.GetTagItem("outcome") as string ?? ""));
                },
            };
            ActivitySource.AddActivityListener(_listener);
        }

        /// <summary>How often each piece of work was done to completion.</summary>
        public Dictionary<(string Kind, string Id), int> Completed() =>
            _spans.Where(s => s.Outcome == "completed").GroupBy(s => (s.Kind, s.Id)).ToDictionary(g => g.Key, g => g.Count());

        public void Dispose() => _listener.Dispose();
    }
}
