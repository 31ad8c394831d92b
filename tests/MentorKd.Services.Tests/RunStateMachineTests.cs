using System.Text;
using System.Text.Json;
using MassTransit;
using MassTransit.Testing;
using MentorKd.Augmentation;
using MentorKd.Augmentation.Datasets;
using MentorKd.Augmentation.Runs;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Pipeline;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Question = MentorKd.Distillation.Data.Question;
using Rationale = MentorKd.Distillation.Data.Rationale;

namespace MentorKd.Services.Tests;

/// <summary>
/// The run state machine drives a run: each state sends its work to a service's queue and moves on when the service
/// answers. Here the test plays the services (it reads the commands the state machine sent and publishes the answers),
/// over MassTransit's in-memory test harness and a real object store.
/// </summary>
public sealed class RunStateMachineTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mentorkd-run-state-machine-tests", Guid.NewGuid().ToString("N"));
    private ServiceProvider _provider = null!;
    private ITestHarness _harness = null!;
    private ISagaStateMachineTestHarness<RunStateMachine, RunState> _saga = null!;
    private IObjectStore _store = null!;

    public async Task InitializeAsync()
    {
        var services = new ServiceCollection()
            .AddLogging(l => l.SetMinimumLevel(LogLevel.Warning))
            .AddSingleton<IObjectStore>(new FileSystemObjectStore(Path.Combine(_root, "store")))
            .AddSingleton(Options.Create(new AugmentationOptions { WorkRoot = Path.Combine(_root, "work") }))
            .AddSingleton<DatasetRegistry>()
            .AddSingleton<RunReportWriter>()
            .AddSingleton<UnfinishedRuns>()
            .AddSingleton<RunFeeds>()
            .AddSingleton<PretrainedModels>()
            .AddSingleton<RunSteps>();
        _provider = services
            .AddMassTransitTestHarness(x => x.AddSagaStateMachine<RunStateMachine, RunState>().InMemoryRepository())
            .BuildServiceProvider(true);
        _harness = _provider.GetRequiredService<ITestHarness>();
        _harness.TestTimeout = TimeSpan.FromSeconds(30);
        await _harness.Start();
        _saga = _harness.GetSagaStateMachineHarness<RunStateMachine, RunState>();
        _store = _provider.GetRequiredService<IObjectStore>();
    }

    public async Task DisposeAsync()
    {
        await _provider.DisposeAsync();
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Each_state_sends_its_work_to_the_services_queue_and_the_services_answers_move_the_run_on()
    {
        var id = await SubmitAsync();
        var keys = new RunKeys(id);
        var annotate = await SentAsync<AnnotateQuestions>(c => c.AnnotationId == keys.AnnotationId("teacher"));
        Assert.Equal(keys.TeacherQuestions, annotate.QuestionsKey);
        Assert.Equal(200, (await ReadRowsAsync<Question>(keys.TeacherQuestions)).Count); // the config's annotated_questions
        Assert.NotNull(await _saga.Exists(id, x => x.AnnotatingTeacher));

        await AnswerAnnotationAsync(annotate);
        var mentor = (await SentAsync<TrainModel>(c => c.JobId == keys.TrainingJobId("mentor"))).ReadRequest();
        Assert.NotNull(await _saga.Exists(id, x => x.TrainingMentor));
        Assert.Equal(TrainingRole.Mentor, mentor.Role);
        Assert.Equal([keys.TeacherRationales], mentor.RationaleKeys);
        Assert.NotNull(await _store.StatAsync(keys.Stage("teacher")));
        Assert.NotNull(await _store.StatAsync(keys.Tokenizer + "tokenizer.json"));
        Assert.True(await PublishedAsync<TeacherAnnotationCompleted>(m => m.CorrelationId == id));

        await _harness.Bus.Publish(Ended(mentor.JobId, JobState.Completed));
        var augment = await SentAsync<AugmentQuestions>(c => c.AugmentationId == keys.AugmentationId("mentor"));
        Assert.NotNull(await _saga.Exists(id, x => x.Augmenting));
        Assert.Equal(mentor.OutputKey + "best/", augment.MentorCheckpointKey);

        await _harness.Bus.Publish(new QuestionsAugmented(augment.AugmentationId, augment.OutputKey, 400, 330, 200, "mentor", ""));
        var arms = new[] { StudentArms.FineTuneCot, StudentArms.MentorKd };
        var students = new List<StartTrainingJobRequest>();
        foreach (var arm in arms) students.Add((await SentAsync<TrainModel>(c => c.JobId == keys.TrainingJobId(arm))).ReadRequest());
        Assert.NotNull(await _saga.Exists(id, x => x.TrainingStudents));
        Assert.Equal([keys.TeacherRationales], students[0].RationaleKeys);
        Assert.Equal([keys.TeacherRationales, keys.MentorRationales], students[1].RationaleKeys);
        Assert.Equal(SoftLabelSourceKind.MentorServer, students[1].SoftLabels.Kind);

        // The run waits for every arm: one answer is not enough to evaluate.
        await _harness.Bus.Publish(Ended(students[0].JobId, JobState.Completed));
        await ConsumedAsync<TrainingJobEnded>(students[0].JobId);
        Assert.Equal("TrainingStudents", _saga.Sagas.Contains(id)!.CurrentState);
        Assert.False(await _harness.Sent.Any<EvaluateCheckpoint>(x => RunKeys.RunOf(x.Context.Message.EvaluationId) == id, new CancellationTokenSource(200).Token));

        await _harness.Bus.Publish(Ended(students[1].JobId, JobState.Completed));
        Assert.NotNull(await _saga.Exists(id, x => x.Evaluating));
        foreach (var job in arms.Prepend("mentor"))
        {
            var evaluate = (await SentAsync<EvaluateCheckpoint>(c => c.EvaluationId == keys.EvaluationId(job))).ReadRequest();
            Assert.Equal(keys.Checkpoints(job) + "best/", evaluate.CheckpointKey);
            Assert.Equal(keys.TestQuestions, evaluate.DatasetKey);
        }
        var state = _saga.Sagas.Contains(id)!;
        Assert.Equal(keys.Checkpoints("mentor") + "best/", state.MentorCheckpointKey);
        Assert.Equal(330, state.MentorCorrect);
        Assert.Equal(2, state.StudentCheckpointKeys.Count);
    }

    [Fact]
    public async Task Answers_delivered_twice_late_or_about_other_work_change_nothing()
    {
        var id = await SubmitAsync();
        var keys = new RunKeys(id);
        var annotate = await SentAsync<AnnotateQuestions>(c => c.AnnotationId == keys.AnnotationId("teacher"));
        await AnswerAnnotationAsync(annotate);
        Assert.NotNull(await _saga.Exists(id, x => x.TrainingMentor));

        // The same answer again (at-least-once delivery), a job of another run, a job of no run, and a student's end
        // while the mentor trains: none moves the run or sends more work.
        await _harness.Bus.Publish(new QuestionsAnnotated(annotate.AnnotationId, annotate.OutputKey, 200, 200, 170, "simulated", ""));
        await _harness.Bus.Publish(Ended(new RunKeys(Guid.NewGuid()).TrainingJobId("mentor"), JobState.Completed));
        await _harness.Bus.Publish(Ended("a-job-started-through-the-trainer-api", JobState.Completed));
        await _harness.Bus.Publish(Ended(keys.TrainingJobId(StudentArms.MentorKd), JobState.Completed));
        await ConsumedAsync<TrainingJobEnded>(keys.TrainingJobId(StudentArms.MentorKd));
        await ConsumedAsync<QuestionsAnnotated>(annotate.AnnotationId, count: 2);

        Assert.Equal("TrainingMentor", _saga.Sagas.Contains(id)!.CurrentState);
        Assert.Single(_harness.Sent.Select<TrainModel>(x => RunKeys.RunOf(x.Context.Message.JobId) == id));
        Assert.False(await _harness.Published.Any<Fault<TrainingJobEnded>>(new CancellationTokenSource(200).Token));
        Assert.False(await _harness.Published.Any<RunFailed>(new CancellationTokenSource(200).Token));
    }

    [Fact]
    public async Task Work_that_fails_or_faults_fails_the_run_naming_the_stage_and_submitting_it_again_retries_it()
    {
        var id = await SubmitAsync();
        var keys = new RunKeys(id);
        await AnswerAnnotationAsync(await SentAsync<AnnotateQuestions>(c => c.AnnotationId == keys.AnnotationId("teacher")));
        var mentor = await SentAsync<TrainModel>(c => c.JobId == keys.TrainingJobId("mentor"));
        await _harness.Bus.Publish(Ended(mentor.JobId, JobState.Failed, "loss is NaN at step 40"));
        Assert.NotNull(await _saga.Exists(id, x => x.FailedState));
        var failed = _saga.Sagas.Contains(id)!;
        Assert.Equal("mentor", failed.FailedStage);
        Assert.Contains("loss is NaN at step 40", failed.FailureReason);
        Assert.True(await PublishedAsync<RunFailed>(m => m.CorrelationId == id));
        Assert.Null(await _store.StatAsync(keys.UnfinishedMarker));

        // Submitted again: the run starts over; the teacher's work is asked for again (the gateway answers it from its output).
        await _harness.Bus.Publish(new RunSubmitted(id, "tiny", keys.Config, DateTime.UtcNow));
        Assert.NotNull(await _saga.Exists(id, x => x.AnnotatingTeacher));
        Assert.Equal(2, await CountSentAsync<AnnotateQuestions>(c => c.AnnotationId == keys.AnnotationId("teacher"), 2));
        Assert.Null(_saga.Sagas.Contains(id)!.FailureReason);

        // A command the service gave up on comes back as a fault, and fails the stage too.
        var annotate = _harness.Sent.Select<AnnotateQuestions>(x => x.Context.Message.AnnotationId == keys.AnnotationId("teacher")).Last().Context.Message;
        await _harness.Bus.Publish<Fault<AnnotateQuestions>>(new
        {
            Message = annotate, FaultId = NewId.NextGuid(), Timestamp = DateTime.UtcNow,
            Exceptions = new ExceptionInfo[] { new MassTransit.Events.FaultExceptionInfo(new IOException("the store is unreachable")) },
        });
        Assert.NotNull(await _saga.Exists(id, x => x.FailedState));
        Assert.Equal("teacher", _saga.Sagas.Contains(id)!.FailedStage);
        Assert.Contains("the store is unreachable", _saga.Sagas.Contains(id)!.FailureReason);

        // A retry takes up the training jobs that ended failed or cancelled (the trainer would otherwise answer with that end).
        await _harness.Bus.Publish(new RunSubmitted(id, "tiny", keys.Config, DateTime.UtcNow));
        Assert.Equal(3, await CountSentAsync<AnnotateQuestions>(c => c.AnnotationId == keys.AnnotationId("teacher"), 3));
        await AnswerAnnotationAsync(_harness.Sent.Select<AnnotateQuestions>(x => x.Context.Message.AnnotationId == keys.AnnotationId("teacher")).Last().Context.Message);
        Assert.Equal(2, await CountSentAsync<TrainModel>(c => c.JobId == keys.TrainingJobId("mentor"), 2));
        var sent = _harness.Sent.Select<TrainModel>(x => x.Context.Message.JobId == keys.TrainingJobId("mentor")).Select(x => x.Context.Message).ToList();
        Assert.False(sent[0].Reopen);
        Assert.True(sent[1].Reopen);
    }

    [Fact]
    public async Task Cancelling_a_run_stops_the_training_jobs_it_waits_for_and_later_answers_are_ignored()
    {
        var id = await SubmitAsync();
        var keys = new RunKeys(id);
        await AnswerAnnotationAsync(await SentAsync<AnnotateQuestions>(c => c.AnnotationId == keys.AnnotationId("teacher")));
        await _harness.Bus.Publish(Ended(keys.TrainingJobId("mentor"), JobState.Completed));
        var augment = await SentAsync<AugmentQuestions>(c => c.AugmentationId == keys.AugmentationId("mentor"));
        await _harness.Bus.Publish(new QuestionsAugmented(augment.AugmentationId, augment.OutputKey, 400, 330, 200, "mentor", ""));
        Assert.NotNull(await _saga.Exists(id, x => x.TrainingStudents));

        await _harness.Bus.Publish(new RunCancellationRequested(id, "not needed any more"));
        Assert.NotNull(await _saga.Exists(id, x => x.Cancelled));
        foreach (var arm in new[] { StudentArms.FineTuneCot, StudentArms.MentorKd })
            Assert.True(await PublishedAsync<CancelTrainingJob>(m => m.JobId == keys.TrainingJobId(arm)), $"{arm} was not cancelled");

        await _harness.Bus.Publish(Ended(keys.TrainingJobId(StudentArms.MentorKd), JobState.Cancelled));
        await ConsumedAsync<TrainingJobEnded>(keys.TrainingJobId(StudentArms.MentorKd));
        Assert.Equal("Cancelled", _saga.Sagas.Contains(id)!.CurrentState);
        Assert.Null(_saga.Sagas.Contains(id)!.FailedStage);
        Assert.False(await _harness.Sent.Any<EvaluateCheckpoint>(x => RunKeys.RunOf(x.Context.Message.EvaluationId) == id, new CancellationTokenSource(200).Token));
    }

    // ---- the test as the other services ----

    /// <summary>The tiny run's config stored as the Runs API stores it, and RunSubmitted published.</summary>
    private async Task<Guid> SubmitAsync()
    {
        var id = Guid.NewGuid();
        var keys = new RunKeys(id);
        var config = EmbeddedTestRuns.Tiny().WithAbsolutePaths();
        using (var json = new MemoryStream(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(config, RunConfig.Json))))
            await _store.PutAsync(keys.Config, json);
        await _harness.Bus.Publish(new RunSubmitted(id, config.Name, keys.Config, DateTime.UtcNow));
        return id;
    }

    /// <summary>What the teacher-gateway does: one rationale per question written to the output, and the counts published.</summary>
    private async Task AnswerAnnotationAsync(AnnotateQuestions command)
    {
        var questions = await ReadRowsAsync<Question>(command.QuestionsKey);
        var rationales = questions.Select((q, i) => new Rationale(q.Id, $"{q.Text} so the answer is {q.Answer}", q.Answer, i % 7 != 0, "teacher", "simulated")).ToList();
        using (var jsonl = new MemoryStream(Encoding.UTF8.GetBytes(string.Concat(rationales.Select(r => JsonSerializer.Serialize(r, JsonLines.Options) + "\n")))))
            await _store.PutAsync(command.OutputKey, jsonl);
        await _harness.Bus.Publish(new QuestionsAnnotated(command.AnnotationId, command.OutputKey, questions.Count, rationales.Count, rationales.Count(r => r.Correct), "simulated", ""));
    }

    /// <summary>What a trainer publishes when a job ends (a completed job's best checkpoint under its output folder).</summary>
    private static TrainingJobEnded Ended(string jobId, JobState state, string error = "")
    {
        var job = new TrainingJob { JobId = jobId, State = state, Error = error };
        if (state == JobState.Completed && RunKeys.RunOf(jobId) is var run && run != Guid.Empty)
        {
            var keys = new RunKeys(run);
            var name = keys.JobName(jobId);
            job.BestCheckpoint = new ObjectRef { Key = keys.Checkpoints(name) + "best/", Sha256 = new string('a', 64), SizeBytes = 1000 };
            job.Outcome = new ObjectRef { Key = keys.Checkpoints(name) + "outcome.json", Sha256 = new string('b', 64), SizeBytes = 100 };
            (job.Examples, job.Parameters, job.DevAccuracy, job.TestAccuracy, job.SelectedEpoch) = (300, 70_000, 0.9, 0.88, 5);
        }
        return TrainingJobEnded.For(job);
    }

    /// <summary>The first matching command sent, waiting up to 30 s. (The harness's own wait ends once the bus has been
    /// idle for a moment, which a state machine step busy with the store on a loaded machine can outlast.)</summary>
    private async Task<T> SentAsync<T>(Func<T, bool> match) where T : class
    {
        for (int i = 0; i < 1200; i++)
        {
            if (_harness.Sent.Select<T>(x => match(x.Context.Message)).FirstOrDefault() is { } sent) return sent.Context.Message;
            await Task.Delay(25);
        }
        throw new TimeoutException($"no {typeof(T).Name} was sent within 30 s");
    }

    /// <summary>Whether a matching event is published within 30 s (polled, for the same reason as <see cref="SentAsync{T}"/>).</summary>
    private async Task<bool> PublishedAsync<T>(Func<T, bool> match) where T : class
    {
        for (int i = 0; i < 1200; i++)
        {
            if (_harness.Published.Select<T>(x => match(x.Context.Message)).Any()) return true;
            await Task.Delay(25);
        }
        return false;
    }

    /// <summary>How many matching commands were sent, waiting (up to 30 s) for <paramref name="expected"/> of them.</summary>
    private async Task<int> CountSentAsync<T>(Func<T, bool> match, int expected) where T : class
    {
        int Count() => _harness.Sent.Select<T>(x => match(x.Context.Message)).Count();
        for (int i = 0; i < 1200 && Count() < expected; i++) await Task.Delay(25);
        return Count();
    }

    /// <summary>Waits until the state machine has handled <paramref name="count"/> messages about the work <paramref name="workId"/>.</summary>
    private async Task ConsumedAsync<T>(string workId, int count = 1) where T : class
    {
        string Id(T m) => m switch { TrainingJobEnded e => e.JobId, QuestionsAnnotated a => a.AnnotationId, _ => "" };
        for (int i = 0; i < 400 && _saga.Consumed.Select<T>(x => Id(x.Context.Message) == workId).Count() < count; i++) await Task.Delay(25);
        Assert.True(_saga.Consumed.Select<T>(x => Id(x.Context.Message) == workId).Count() >= count, $"the state machine did not handle {typeof(T).Name} for {workId}");
    }

    private async Task<List<TRow>> ReadRowsAsync<TRow>(string key)
    {
        using var buffer = new MemoryStream();
        await _store.GetAsync(key, buffer);
        return JsonLines.Parse<TRow>(Encoding.UTF8.GetString(buffer.ToArray()).Split('\n'), key).ToList();
    }
}
