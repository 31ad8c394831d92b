using MassTransit;
using MassTransit.Testing;
using MentorKd.Augmentation.Runs;
using MentorKd.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

public class RunStateMachineTests
{
    private static async Task<(ServiceProvider Provider, ITestHarness Harness, ISagaStateMachineTestHarness<RunStateMachine, RunState> Saga)> Start()
    {
        var provider = new ServiceCollection()
            .AddMassTransitTestHarness(x => x.AddSagaStateMachine<RunStateMachine, RunState>().InMemoryRepository())
            .BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        return (provider, harness, harness.GetSagaStateMachineHarness<RunStateMachine, RunState>());
    }

    [Fact]
    public async Task A_run_moves_through_every_stage_to_completed_and_records_its_lineage()
    {
        var (provider, harness, saga) = await Start();
        await using var _ = provider;
        var id = NewId.NextGuid();
        var machine = saga.StateMachine;

        await harness.Bus.Publish(new RunSubmitted(id, "demo", $"runs/{id}/config.json", DateTime.UtcNow));
        Assert.NotNull(await saga.Exists(id, x => x.AnnotatingTeacher));
        await harness.Bus.Publish(new TeacherAnnotationCompleted(id, $"runs/{id}/datasets/teacher.jsonl", 300, 262));
        Assert.NotNull(await saga.Exists(id, x => x.TrainingMentor));
        await harness.Bus.Publish(new MentorTrainingCompleted(id, $"runs/{id}/checkpoints/mentor/best/", 0.93));
        Assert.NotNull(await saga.Exists(id, x => x.LoadingMentor));
        await harness.Bus.Publish(new MentorLoaded(id, $"runs/{id}/checkpoints/mentor/best/"));
        Assert.NotNull(await saga.Exists(id, x => x.Augmenting));
        await harness.Bus.Publish(new AugmentationCompleted(id, $"runs/{id}/datasets/mentor.jsonl", 3000, 2463));
        Assert.NotNull(await saga.Exists(id, x => x.TrainingStudents));
        await harness.Bus.Publish(new StudentTrainingCompleted(id, [$"runs/{id}/checkpoints/mentor_kd/best/"]));
        Assert.NotNull(await saga.Exists(id, x => x.Evaluating));
        await harness.Bus.Publish(new EvaluationCompleted(id, $"runs/{id}/reports/report.md"));
        Assert.NotNull(await saga.Exists(id, x => x.Completed));

        var state = saga.Sagas.Contains(id)!;
        Assert.Equal("demo", state.Name);
        Assert.Equal(262, state.TeacherKept);
        Assert.Equal(0.93, state.MentorDevAccuracy);
        Assert.Equal(2463, state.MentorCorrect);
        Assert.Equal([$"runs/{id}/checkpoints/mentor_kd/best/"], state.StudentCheckpointKeys);
        Assert.Equal($"runs/{id}/reports/report.md", state.ReportKey);
        Assert.Equal(nameof(machine.Completed), state.CurrentState);
    }

    [Fact]
    public async Task An_event_delivered_twice_changes_nothing_the_second_time()
    {
        var (provider, harness, saga) = await Start();
        await using var _ = provider;
        var id = NewId.NextGuid();
        await harness.Bus.Publish(new RunSubmitted(id, "twice", "k", DateTime.UtcNow));
        await harness.Bus.Publish(new TeacherAnnotationCompleted(id, "first.jsonl", 10, 9));
        Assert.NotNull(await saga.Exists(id, x => x.TrainingMentor));

        // The same completion again (at-least-once delivery), and a stale copy with other numbers: both ignored.
        await harness.Bus.Publish(new TeacherAnnotationCompleted(id, "first.jsonl", 10, 9));
        await harness.Bus.Publish(new TeacherAnnotationCompleted(id, "second.jsonl", 99, 1));
        await harness.Bus.Publish(new RunSubmitted(id, "renamed", "other", DateTime.UtcNow));
        var consumed = 0;
        await foreach (var message in harness.Consumed.SelectAsync<TeacherAnnotationCompleted>(x => x.Context.Message.CorrelationId == id))
            if (++consumed == 3) break;
        Assert.Equal(3, consumed);

        var state = saga.Sagas.Contains(id)!;
        Assert.Equal("TrainingMentor", state.CurrentState);
        Assert.Equal("first.jsonl", state.TeacherRationalesKey);
        Assert.Equal(9, state.TeacherKept);
        Assert.Equal("twice", state.Name);
        Assert.False(await harness.Published.Any<Fault<TeacherAnnotationCompleted>>());
    }

    [Fact]
    public async Task A_failure_or_a_cancellation_ends_an_active_run_but_not_a_finished_one()
    {
        var (provider, harness, saga) = await Start();
        await using var _ = provider;
        var failing = NewId.NextGuid();
        await harness.Bus.Publish(new RunSubmitted(failing, "f", "k", DateTime.UtcNow));
        await harness.Bus.Publish(new TeacherAnnotationCompleted(failing, "t", 1, 1));
        await harness.Bus.Publish(new RunFailed(failing, "mentor_training", "out of memory"));
        Assert.NotNull(await saga.Exists(failing, x => x.FailedState));
        Assert.Equal("mentor_training", saga.Sagas.Contains(failing)!.FailedStage);

        var cancelled = NewId.NextGuid();
        await harness.Bus.Publish(new RunSubmitted(cancelled, "c", "k", DateTime.UtcNow));
        await harness.Bus.Publish(new RunCancellationRequested(cancelled, "user asked"));
        Assert.NotNull(await saga.Exists(cancelled, x => x.Cancelled));

        // A late failure report for a failed run does not move it again.
        await harness.Bus.Publish(new RunFailed(failing, "augmentation", "late"));
        await harness.Bus.Publish(new RunCancellationRequested(failing, "late"));
        Assert.True(await harness.Consumed.Any<RunCancellationRequested>(x => x.Context.Message.CorrelationId == failing));
        Assert.Equal("mentor_training", saga.Sagas.Contains(failing)!.FailedStage);
        Assert.Equal("FailedState", saga.Sagas.Contains(failing)!.CurrentState);
    }

    [Fact]
    public async Task Submitting_a_failed_run_again_retries_it_but_a_completed_run_stays_completed()
    {
        var (provider, harness, saga) = await Start();
        await using var _ = provider;
        var id = NewId.NextGuid();
        await harness.Bus.Publish(new RunSubmitted(id, "retry", "k", DateTime.UtcNow));
        await harness.Bus.Publish(new RunFailed(id, "teacher", "gateway unreachable"));
        Assert.NotNull(await saga.Exists(id, x => x.FailedState));

        await harness.Bus.Publish(new RunSubmitted(id, "retry", "k", DateTime.UtcNow));
        Assert.NotNull(await saga.Exists(id, x => x.AnnotatingTeacher));
        Assert.Null(saga.Sagas.Contains(id)!.FailureReason);

        var done = NewId.NextGuid();
        await harness.Bus.Publish(new RunSubmitted(done, "done", "k", DateTime.UtcNow));
        await PublishStagesAsync(harness, done);
        Assert.NotNull(await saga.Exists(done, x => x.Completed));
        await harness.Bus.Publish(new RunSubmitted(done, "done", "k", DateTime.UtcNow));
        for (int i = 0; i < 200 && saga.Consumed.Select<RunSubmitted>(x => x.Context.Message.CorrelationId == done).Count() < 2; i++) await Task.Delay(25);
        Assert.Equal(2, saga.Consumed.Select<RunSubmitted>(x => x.Context.Message.CorrelationId == done).Count());
        Assert.Equal("Completed", saga.Sagas.Contains(done)!.CurrentState);
    }

    [Fact]
    public async Task New_questions_for_a_completed_run_go_through_retraining_and_back_to_completed()
    {
        var (provider, harness, saga) = await Start();
        await using var _ = provider;
        var id = NewId.NextGuid();
        await harness.Bus.Publish(new RunSubmitted(id, "rounds", "k", DateTime.UtcNow));
        await PublishStagesAsync(harness, id);
        Assert.NotNull(await saga.Exists(id, x => x.Completed));

        await harness.Bus.Publish(new RunQuestionsAdded(id, "runs/x/incoming/q.jsonl", new string('b', 64), "test"));
        Assert.NotNull(await saga.Exists(id, x => x.Retraining));
        await harness.Bus.Publish(new RetrainingRoundCompleted(id, 1, new string('b', 64), "runs/x/checkpoints/round1-mentor_kd/best/", 0.9));
        Assert.NotNull(await saga.Exists(id, x => x.Completed));
        for (int i = 0; i < 100 && saga.Sagas.Contains(id)!.RetrainingRounds == 0; i++) await Task.Delay(20);
        Assert.Equal(1, saga.Sagas.Contains(id)!.RetrainingRounds);

        // A round that finishes without its QuestionsAdded having been seen (added while the run worked) is counted too.
        await harness.Bus.Publish(new RetrainingRoundCompleted(id, 2, new string('c', 64), "runs/x/checkpoints/round2-mentor_kd/best/", 0.9));
        for (int i = 0; i < 100 && saga.Sagas.Contains(id)!.RetrainingRounds < 2; i++) await Task.Delay(20);
        Assert.Equal(2, saga.Sagas.Contains(id)!.RetrainingRounds);
        Assert.Equal("Completed", saga.Sagas.Contains(id)!.CurrentState);
    }

    /// <summary>Every stage's completion event of a run that went well, in order.</summary>
    private static async Task PublishStagesAsync(ITestHarness harness, Guid id)
    {
        foreach (var message in new object[]
                 {
                     new TeacherAnnotationCompleted(id, "t", 1, 1), new MentorTrainingCompleted(id, "m", 1), new MentorLoaded(id, "m"),
                     new AugmentationCompleted(id, "a", 1, 1), new StudentTrainingCompleted(id, ["s"]), new EvaluationCompleted(id, "r"),
                 })
            await harness.Bus.Publish(message);
    }
}
