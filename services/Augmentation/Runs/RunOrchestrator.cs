using Google.Protobuf;
using System.Text;
using Grpc.Core;
using MassTransit;
using MentorKd.Augmentation.Datasets;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Pipeline;
using MentorKd.ModelServing;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Storage;
using Microsoft.Extensions.Options;
using Question = MentorKd.Distillation.Data.Question;
using Rationale = MentorKd.Distillation.Data.Rationale;

namespace MentorKd.Augmentation.Runs;

/// <summary>
/// Drives one Mentor-KD run through the five services: data → teacher-gateway annotation (answer-filtered) →
/// tokenizer → trainer (mentor) → mentor-server load → mentor augmentation → trainer (every student arm) →
/// evaluator → report. Each stage publishes its completion event for the run state machine and leaves a stage
/// record in the store; a run started again (after a crash or restart) skips every stage that has one, and the
/// trainer resumes unfinished jobs from their last epoch.
/// </summary>
public sealed partial class RunOrchestrator(
    LiveRun run,
    IObjectStore store,
    DatasetRegistry registry,
    TrainingJobs trainingJobs,
    RunReportWriter reportWriter,
    EventFollowers<AnnotationUpdate> annotations,
    EventFollowers<AugmentationUpdate> augmentations,
    UnfinishedRuns unfinished,
    Protos.V1.MentorServer.MentorServerClient mentor,
    EventFollowers<CheckpointEvaluated> evaluations,
    IBus bus,
    IOptions<AugmentationOptions> options,
    ILogger<RunOrchestrator> logger)
{
    public const string MentorJob = "mentor";

    private readonly RunKeys _keys = new(run.RunId);
    private readonly RunStageRecords _stages = new(store, new RunKeys(run.RunId));
    private readonly TransientRetry _retry = new(TimeSpan.FromSeconds(options.Value.RetrySeconds), logger);
    private string _stage = "config";
    private RunStatus _status = RunStatus.AnnotatingTeacher;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var id = run.RunId;
        try
        {
            await unfinished.MarkAsync(id, cancellationToken);
            var config = await LoadConfigAsync(cancellationToken);
            var data = await PrepareDataAsync(config, cancellationToken);
            var splits = await ReadSplitsAsync(cancellationToken);
            var teacherStage = await AnnotateAsync(config, splits.Train, cancellationToken);
            await PublishAsync(new TeacherAnnotationCompleted(id, _keys.TeacherRationales, teacherStage.Rationales, teacherStage.Kept), cancellationToken);
            await BuildTokenizerAsync(config, splits.Train, cancellationToken);

            Enter(RunStatus.TrainingMentor);
            var mentorJob = await trainingJobs.TrainAsync(_keys, _stages, MentorJob, TrainingRole.Mentor, config.Mentor, config.Mentor.Training, config.ContextLength,
                [_keys.TeacherRationales], softLabels: null, softLabelsCheckpoint: null, Report, cancellationToken);
            await PublishAsync(new MentorTrainingCompleted(id, mentorJob.CheckpointKey, mentorJob.DevAccuracy), cancellationToken);

            // A run that already has its report only replays its events (the state machine may be new, after a restart).
            bool complete = await store.StatAsync(_keys.Report, cancellationToken) is not null;
            Enter(RunStatus.LoadingMentor);
            _stage = "mentor-load";
            if (!complete) await LoadMentorAsync(mentorJob, cancellationToken);
            await PublishAsync(new Contracts.MentorLoaded(id, mentorJob.CheckpointKey), cancellationToken);

            Enter(RunStatus.Augmenting);
            var augmentation = await AugmentAsync(config, mentorJob.CheckpointKey, cancellationToken);
            await PublishAsync(new AugmentationCompleted(id, _keys.MentorRationales, augmentation.Samples, augmentation.Correct), cancellationToken);

            Enter(RunStatus.TrainingStudents);
            // Every arm goes to the trainers' queue at once: replicas train them side by side.
            _stage = "students";
            var trained = await Task.WhenAll(config.Arms.Select(arm => TrainStudentAsync(config, arm, mentorJob, teacherStage, augmentation, cancellationToken)));
            var students = config.Arms.Zip(trained, (arm, job) => (Arm: arm, Job: job)).ToList();
            await PublishAsync(new StudentTrainingCompleted(id, students.Select(s => s.Job.CheckpointKey).ToList()), cancellationToken);

            // Every checkpoint goes to the evaluators' queue at once: replicas evaluate them side by side.
            Enter(RunStatus.Evaluating);
            _stage = "evaluation";
            var evaluated = await Task.WhenAll(students.Select(s => (s.Arm, s.Job, config.Student.Training.EvalMaxNewTokens, config.Student.Training.EvalBatchSize))
                .Prepend((MentorJob, mentorJob, config.Mentor.Training.EvalMaxNewTokens, config.Mentor.Training.EvalBatchSize))
                .Select(e => EvaluateCheckpointAsync(e.Item1, e.Item2.CheckpointKey, e.Item3, e.Item4, cancellationToken)));
            var evaluations = evaluated.ToDictionary(e => e.Job);

            _stage = "report";
            var results = complete
                ? await reportWriter.ReadResultsAsync(_keys, cancellationToken)
                : await reportWriter.WriteAsync(_keys, config, data, splits, teacherStage, mentorJob, augmentation, students, evaluations, cancellationToken);
            Report(RunEventKind.StageCompleted, $"report at {_keys.Report}");
            await PublishAsync(new EvaluationCompleted(id, _keys.Report), cancellationToken);

            // New questions that arrived for the run (before or while it worked) are retraining rounds, done in order.
            var baseline = students.FirstOrDefault(s => s.Arm == StudentArms.MentorKd) is { Job: not null } kd ? kd : students[0];
            do await RunPendingRoundsAsync(config, splits.Train, mentorJob, baseline.Arm, baseline.Job, evaluations[baseline.Arm], cancellationToken);
            while (!run.TryFinish());
            await unfinished.ClearAsync(id, CancellationToken.None);
            End(RunStatus.Completed, Distillation.Pipeline.RunReport.ComparisonMarkdown(results));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !run.Cancellation.IsCancellationRequested)
        {
            // The service is stopping, not the run: it stays unfinished and is carried on when the service starts again.
            logger.LogInformation("Run {Run} interrupted during {Stage} by the service stopping", id, _stage);
            run.Finish();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            logger.LogInformation("Run {Run} cancelled during {Stage}", id, _stage);
            run.Finish();
            await unfinished.ClearAsync(id, CancellationToken.None);
            End(RunStatus.Cancelled, $"cancelled during {_stage}");
        }
        catch (Exception e)
        {
            var reason = e is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : e.Message;
            logger.LogError(e, "Run {Run} failed during {Stage}", id, _stage);
            await PublishAsync(new RunFailed(id, _stage, reason), CancellationToken.None);
            run.Finish();
            await unfinished.ClearAsync(id, CancellationToken.None);
            End(RunStatus.Failed, $"{_stage}: {reason}");
        }
    }

    private async Task<RunConfig> LoadConfigAsync(CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(_keys.Config, buffer, cancellationToken);
        // The Runs API validated the config and made its paths absolute before storing it.
        return RunConfig.Parse(Encoding.UTF8.GetString(buffer.ToArray()), Environment.CurrentDirectory);
    }

    private async Task<DataStage> PrepareDataAsync(RunConfig config, CancellationToken cancellationToken)
    {
        _stage = "data";
        if (await _stages.FindAsync<DataStage>(_stage, cancellationToken) is { } done) return done;
        Report(RunEventKind.StageStarted, $"preparing {config.Task.Name} questions ({config.Task.Source})");
        var startedAt = DateTime.UtcNow;
        var splits = DatasetPreparation.Prepare(config);
        foreach (var (name, key, rows) in new[] { ("train", _keys.TrainQuestions, splits.Train), ("dev", _keys.DevQuestions, splits.Dev), ("test", _keys.TestQuestions, splits.Test) })
        {
            await registry.WriteRowsAsync(key, rows, cancellationToken);
            await registry.RegisterAsync(_keys.DatasetId(name), DatasetRegistry.Questions, key, null, $"{config.Task.Source}:{config.Task.Name}(seed={config.Seed})", allowEmpty: false, cancellationToken);
        }
        var stage = new DataStage(splits.Train.Count, splits.Dev.Count, splits.Test.Count, startedAt);
        await _stages.SaveAsync(_stage, stage, cancellationToken);
        Report(RunEventKind.StageCompleted, $"{stage.Train} train / {stage.Dev} dev / {stage.Test} test questions");
        return stage;
    }

    private async Task<DatasetPreparation.Splits> ReadSplitsAsync(CancellationToken cancellationToken) => new(
        await registry.ReadRowsAsync<Question>(_keys.TrainQuestions, cancellationToken),
        await registry.ReadRowsAsync<Question>(_keys.DevQuestions, cancellationToken),
        await registry.ReadRowsAsync<Question>(_keys.TestQuestions, cancellationToken));

    private async Task<TeacherStage> AnnotateAsync(RunConfig config, IReadOnlyList<Question> train, CancellationToken cancellationToken)
    {
        _stage = "teacher";
        if (await _stages.FindAsync<TeacherStage>(_stage, cancellationToken) is { } done) return done;
        var asked = DatasetPreparation.TeacherQuestions(config, train);
        await registry.WriteRowsAsync(_keys.TeacherQuestions, asked, cancellationToken);
        // Every rationale is stored, judged; training uses only the answer-correct ones (Mentor-KD's filter).
        var annotated = await AnnotateQuestionsAsync(config, "teacher", _keys.TeacherQuestions, asked.Count, _keys.TeacherRationales, cancellationToken);
        await registry.RegisterAsync(_keys.DatasetId("teacher"), DatasetRegistry.Rationales, _keys.TeacherRationales, _keys.DatasetId("train"), annotated.Teacher,
            allowEmpty: true, cancellationToken);
        var stage = new TeacherStage(annotated.Teacher, asked.Count, annotated.Rationales, annotated.Kept);
        await _stages.SaveAsync(_stage, stage, cancellationToken);
        Report(RunEventKind.StageCompleted, $"{stage.Kept}/{stage.Rationales} rationales kept for {stage.Questions} questions ({stage.Teacher})");
        return stage;
    }

    /// <summary>The teacher-gateway's judged rationales for stored questions, written to <paramref name="outputKey"/>
    /// by whichever gateway replica takes the command, followed to the end.</summary>
    private async Task<QuestionsAnnotated> AnnotateQuestionsAsync(RunConfig config, string name, string questionsKey, int questions, string outputKey,
        CancellationToken cancellationToken)
    {
        Report(RunEventKind.StageStarted, $"teacher annotation: {questions} questions × {config.Teacher.RationalesPerQuestion}", total: questions);
        var annotationId = $"{_keys.Id}-annotation-{name}";
        using var follower = annotations.Follow(annotationId);
        await SendAsync(AnnotateQuestions.Queue, new AnnotateQuestions(annotationId, questionsKey, config.Teacher.RationalesPerQuestion, outputKey), cancellationToken);
        while (true)
        {
            var update = await follower.Updates.ReadAsync(cancellationToken);
            if (update.Outcome is { } outcome)
                return outcome.Error.Length == 0 ? outcome : throw new InvalidOperationException($"teacher annotation: {outcome.Error}");
            var p = update.Progress!;
            Report(RunEventKind.StageProgress, $"{p.Kept}/{p.Rationales} kept", p.QuestionsDone, p.Questions);
        }
    }

    private async Task BuildTokenizerAsync(RunConfig config, IReadOnlyList<Question> train, CancellationToken cancellationToken)
    {
        _stage = "tokenizer";
        if (await _stages.FindAsync<TokenizerStage>(_stage, cancellationToken) is not null) return;
        Report(RunEventKind.StageStarted, $"building the {config.Tokenizer} tokenizer");
        var teacherRationales = await registry.ReadRowsAsync<Rationale>(_keys.TeacherRationales, cancellationToken);
        var tokenizer = RunTokenizer.Build(config, train, teacherRationales);
        var folder = Path.Combine(options.Value.WorkRoot, _keys.Id, "tokenizer");
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        tokenizer.Save(folder);
        var uploaded = await store.UploadAsync(folder, _keys.Tokenizer, cancellationToken);
        await _stages.SaveAsync(_stage, new TokenizerStage(config.Tokenizer, tokenizer.VocabSize, uploaded.Sha256, uploaded.Size), cancellationToken);
        Report(RunEventKind.StageCompleted, $"{config.Tokenizer} tokenizer, {tokenizer.VocabSize} tokens");
    }

    private async Task LoadMentorAsync(TrainingStage mentorJob, CancellationToken cancellationToken)
    {
        Report(RunEventKind.StageStarted, $"mentor-server loads {mentorJob.CheckpointKey}");
        var info = await _retry.RunAsync("loading the mentor", async () =>
            await mentor.LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = mentorJob.CheckpointKey }, cancellationToken: cancellationToken), cancellationToken);
        Report(RunEventKind.StageCompleted, $"mentor loaded: {info.Parameters / 1e6:F2}M parameters, {info.Dtype} on {info.Device}");
    }

    private async Task<AugmentationStage> AugmentAsync(RunConfig config, string mentorCheckpointKey, CancellationToken cancellationToken)
    {
        _stage = "augmentation";
        if (await _stages.FindAsync<AugmentationStage>(_stage, cancellationToken) is { } done) return done;
        var a = config.Augmentation;
        var train = await registry.FindAsync(_keys.DatasetId("train"), cancellationToken)
            ?? throw new InvalidOperationException($"dataset {_keys.DatasetId("train")} is missing from the registry.");
        AugmentationStage stage;
        if (a.SamplesPerQuestion == 0)
        {
            await registry.WriteRowsAsync(_keys.MentorRationales, Array.Empty<Rationale>(), cancellationToken);
            await registry.RegisterAsync(_keys.DatasetId("mentor"), DatasetRegistry.Rationales, _keys.MentorRationales, train.DatasetId, "none", allowEmpty: true, cancellationToken);
            stage = new AugmentationStage(0, 0, 0, "none");
        }
        else
            stage = await AugmentQuestionsAsync(config, "mentor", mentorCheckpointKey, train, _keys.DatasetId("mentor"), _keys.MentorRationales, cancellationToken);
        await _stages.SaveAsync(_stage, stage, cancellationToken);
        Report(RunEventKind.StageCompleted, $"{stage.Correct}/{stage.Samples} mentor rationales correct, {stage.QuestionsCovered} questions covered");
        return stage;
    }

    /// <summary>The mentor's correct rationales for every question of a registered question set, sampled through the
    /// mentor-server by whichever augmentation replica takes the command, stored and registered; followed to the end.</summary>
    private async Task<AugmentationStage> AugmentQuestionsAsync(RunConfig config, string name, string mentorCheckpointKey, DatasetRecord questions, string outputId,
        string outputKey, CancellationToken cancellationToken)
    {
        var a = config.Augmentation;
        Report(RunEventKind.StageStarted, $"mentor augmentation: {a.SamplesPerQuestion} samples × {questions.Rows} questions (T={a.Temperature}, top-k {a.TopK})", total: questions.Rows);
        var sampling = new SamplingParameters { Temperature = a.Temperature, TopK = a.TopK, TopP = a.TopP, MaxNewTokens = a.MaxNewTokens, Seed = config.Seed };
        var augmentationId = $"{_keys.Id}-augmentation-{name}";
        using var follower = augmentations.Follow(augmentationId);
        await SendAsync(AugmentQuestions.Queue, new AugmentQuestions(augmentationId, mentorCheckpointKey, questions.DatasetId, outputId, outputKey, a.SamplesPerQuestion,
            sampling.ToByteArray()), cancellationToken);
        while (true)
        {
            var update = await follower.Updates.ReadAsync(cancellationToken);
            if (update.Progress is { } p)
            {
                Report(RunEventKind.StageProgress, "", p.QuestionsDone, p.Questions);
                continue;
            }
            var outcome = update.Outcome!;
            if (outcome.Error.Length > 0) throw new InvalidOperationException($"mentor augmentation: {outcome.Error}");
            return new AugmentationStage(outcome.Samples, outcome.Correct, outcome.QuestionsCovered, outcome.Producer);
        }
    }

    private SoftLabelSource SoftLabelsFrom(RunConfig config, TrainingStage mentorJob) => config.Student.SoftLabels == SoftLabelSources.MentorServer
        ? new SoftLabelSource { Kind = SoftLabelSourceKind.MentorServer, MentorServerAddress = options.Value.MentorServerAddress, TopK = options.Value.SoftLabelTopK }
        : new SoftLabelSource { Kind = SoftLabelSourceKind.InProcess, MentorCheckpointKey = mentorJob.CheckpointKey };

    private Task<TrainingStage> TrainStudentAsync(RunConfig config, string arm, TrainingStage mentorJob, TeacherStage teacher, AugmentationStage augmentation,
        CancellationToken cancellationToken)
    {
        bool augmented = StudentArms.UsesMentorRationales(arm), soft = StudentArms.UsesSoftLabels(arm);
        var training = config.Student.Training with { KdMode = soft ? config.Student.Training.KdMode : Distillation.Training.KnowledgeDistillationMode.None };
        if (arm == StudentArms.FineTuneCotStepMatched)
            training = StudentArms.StepMatched(training, teacher.Kept, teacher.Kept + augmentation.Correct);
        var softLabels = soft ? SoftLabelsFrom(config, mentorJob) : null;
        string[] rationales = augmented ? [_keys.TeacherRationales, _keys.MentorRationales] : [_keys.TeacherRationales];
        return trainingJobs.TrainAsync(_keys, _stages, arm, TrainingRole.Student, config.Student, training, config.ContextLength, rationales, softLabels, mentorJob.CheckpointKey, Report, cancellationToken);
    }

    /// <summary>The test accuracy of a checkpoint, from the evaluators' queue, with the per-example report under reports/evaluations/{job}.</summary>
    private async Task<EvaluationStage> EvaluateCheckpointAsync(string job, string checkpointKey, int maxNewTokens, int batchSize, CancellationToken cancellationToken)
    {
        var name = $"evaluation-{job}";
        if (await _stages.FindAsync<EvaluationStage>(name, cancellationToken) is { } done) return done;
        Report("evaluation", RunEventKind.StageStarted, $"evaluating {job} on the test set", 0, 0, null);
        var request = new EvaluateRequest
        {
            CheckpointKey = checkpointKey, DatasetKey = _keys.TestQuestions, MaxNewTokens = maxNewTokens, BatchSize = batchSize, ReportKey = _keys.Evaluation(job),
        };
        var evaluationId = $"{_keys.Id}-{name}";
        CheckpointEvaluated outcome;
        using (var follower = evaluations.Follow(evaluationId))
        {
            await SendAsync(EvaluateCheckpoint.Queue, EvaluateCheckpoint.For(evaluationId, request), cancellationToken);
            outcome = await follower.Updates.ReadAsync(cancellationToken);
        }
        if (outcome.Error.Length > 0) throw new InvalidOperationException($"evaluating {job}: {outcome.Error}");
        var report = outcome.ReadReport();
        var stage = new EvaluationStage(job, report.Accuracy, report.Correct, report.Total, report.Report.Key, report.Report.Sha256, report.Report.SizeBytes);
        await _stages.SaveAsync(name, stage, cancellationToken);
        Report("evaluation", RunEventKind.StageCompleted, $"{job}: test accuracy {report.Accuracy:P1} ({report.Correct}/{report.Total})", 0, 0, null);
        return stage;
    }

    private void Enter(RunStatus status) => _status = status;

    // Commands must reach their queue: a send that fails while the broker reconnects is tried again.
    private Task SendAsync<T>(string queue, T command, CancellationToken cancellationToken) where T : class =>
        _retry.RunAsync($"sending {typeof(T).Name}", async () =>
        {
            await bus.SendToQueueAsync(queue, command, cancellationToken);
            return true;
        }, cancellationToken, anyFailureIsTransient: true);

    // Events must reach the state machine: a publish that fails while the broker reconnects is tried again.
    private Task PublishAsync<T>(T message, CancellationToken cancellationToken) where T : class =>
        _retry.RunAsync($"publishing {typeof(T).Name}", () => bus.Publish(message, cancellationToken), cancellationToken, anyFailureIsTransient: true);

    private void Report(RunEventKind kind, string message, double done = 0, double total = 0, TrainingProgress? training = null) =>
        Report(_stage, kind, message, done, total, training);

    // Student arms train side by side, so each names its own stage.
    private void Report(string stage, RunEventKind kind, string message, double done, double total, TrainingProgress? training) =>
        run.Feed.Append(new RunEvent { Kind = kind, Stage = stage, Message = message, Done = done, Total = total, Training = training, Status = _status });

    private void End(RunStatus status, string message)
    {
        _status = status;
        Report(RunEventKind.RunEnded, message);
    }
}
