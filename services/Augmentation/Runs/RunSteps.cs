using System.Collections.Concurrent;
using System.Text;
using Google.Protobuf;
using MassTransit;
using MentorKd.Augmentation.Datasets;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Tokenization;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Storage;
using Microsoft.Extensions.Options;
using Question = MentorKd.Distillation.Data.Question;
using Rationale = MentorKd.Distillation.Data.Rationale;

namespace MentorKd.Augmentation.Runs;

/// <summary>
/// What the run state machine does on entering and leaving its states (<see cref="RunStateMachine"/> says when): the
/// run's own steps (data, tokenizer, report) done here, the commands sent to the other services' queues, and what
/// their answers leave in the store (a stage record per finished stage, <see cref="RunStageRecords"/>). Commands are
/// answered from the services' records when the work is already done, so a run started again after a restart goes
/// through its states quickly up to where it stopped.
/// </summary>
public sealed partial class RunSteps(IObjectStore store, DatasetRegistry registry, RunReportWriter reportWriter, UnfinishedRuns unfinished, RunFeeds feeds,
    PretrainedModels pretrained, IOptions<AugmentationOptions> options, ILogger<RunSteps> logger)
{
    public const string MentorJob = "mentor";

    private readonly ConcurrentDictionary<string, RunConfig> _configs = new();

    /// <summary>A run's config: validated by the Runs API (paths made absolute) and stored, never changed under its
    /// id; read back once per process.</summary>
    public async Task<RunConfig> ConfigAsync(RunState run, CancellationToken cancellationToken)
    {
        if (_configs.TryGetValue(run.ConfigKey, out var config)) return config;
        config = RunConfig.Parse(await ReadTextAsync(run.ConfigKey, cancellationToken), Environment.CurrentDirectory);
        return _configs.GetOrAdd(run.ConfigKey, config);
    }

    /// <summary>A new attempt: a fresh progress feed, the run marked unfinished, its questions prepared, the teacher asked.</summary>
    public async Task StartAsync(BehaviorContext<RunState> context)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var keys = Keys(run);
        feeds.Begin(run.CorrelationId);
        (run.FailedStage, run.FailureReason, run.Round) = (null, null, null);
        run.PendingTraining.Clear();
        run.PendingEvaluations.Clear();
        await unfinished.MarkAsync(run.CorrelationId, token);
        var config = await ConfigAsync(run, token);

        run.Stage = "data";
        if (await Records(run).FindAsync<DataStage>(run.Stage, token) is null)
        {
            Report(run, RunEventKind.StageStarted, $"preparing {config.Task.Name} questions ({config.Task.Source})");
            var startedAt = DateTime.UtcNow;
            // Held to the platform's limits and data roots where the files are read (links placed since submission included).
            RunConfigValidator.Validate(config, options.Value.Limits);
            var splits = DatasetPreparation.Prepare(config);
            foreach (var (name, key, rows) in new[] { ("train", keys.TrainQuestions, splits.Train), ("dev", keys.DevQuestions, splits.Dev), ("test", keys.TestQuestions, splits.Test) })
            {
                await registry.WriteRowsAsync(key, rows, token);
                await registry.RegisterAsync(keys.DatasetId(name), DatasetRegistry.Questions, key, null, $"{config.Task.Source}:{config.Task.Name}(seed={config.Seed})", allowEmpty: false, token);
            }
            var stage = new DataStage(splits.Train.Count, splits.Dev.Count, splits.Test.Count, startedAt);
            await Records(run).SaveAsync(run.Stage, stage, token);
            Report(run, RunEventKind.StageCompleted, $"{stage.Train} train / {stage.Dev} dev / {stage.Test} test questions");
        }

        // Every rationale is stored, judged; training uses only the answer-correct ones (Mentor-KD's filter).
        run.Stage = "teacher";
        var asked = DatasetPreparation.TeacherQuestions(config, await registry.ReadRowsAsync<Question>(keys.TrainQuestions, token));
        await registry.WriteRowsAsync(keys.TeacherQuestions, asked, token);
        await SendAnnotationAsync(context, config, "teacher", keys.TeacherQuestions, asked.Count, keys.TeacherRationales);
    }

    /// <summary>The teacher's rationales are in: registered, recorded; then the tokenizer.</summary>
    public async Task TeacherAnnotatedAsync(BehaviorContext<RunState, QuestionsAnnotated> context)
    {
        var (run, outcome, token) = (context.Saga, context.Message, context.CancellationToken);
        var keys = Keys(run);
        var config = await ConfigAsync(run, token);
        if (outcome.Error.Length > 0) throw new InvalidOperationException($"teacher annotation: {outcome.Error}");
        await registry.RegisterAsync(keys.DatasetId("teacher"), DatasetRegistry.Rationales, keys.TeacherRationales, keys.DatasetId("train"), outcome.Teacher,
            allowEmpty: true, token);
        var teacher = new TeacherStage(outcome.Teacher, outcome.Questions, outcome.Rationales, outcome.Kept, outcome.Prompt, outcome.Failed, outcome.FailuresKey, outcome.Usage);
        await Records(run).SaveAsync("teacher", teacher, token);
        Report(run, RunEventKind.StageCompleted, $"{teacher.Kept}/{teacher.Rationales} rationales kept for {teacher.Questions} questions ({teacher.Teacher})" +
            (teacher.Failed > 0 ? $"; {teacher.Failed} calls failed after every retry" : ""));
        (run.TeacherRationalesKey, run.TeacherRationales, run.TeacherKept) = (keys.TeacherRationales, teacher.Rationales, teacher.Kept);
        await context.Publish(new TeacherAnnotationCompleted(run.CorrelationId, keys.TeacherRationales, teacher.Rationales, teacher.Kept), token);

        run.Stage = "tokenizer";
        if (await Records(run).FindAsync<TokenizerStage>(run.Stage, token) is null)
        {
            var kind = config.TokenizerKind;
            var fromPretrained = kind == RunTokenizer.Pretrained;
            Report(run, RunEventKind.StageStarted, fromPretrained
                ? $"the pretrained {string.Join(" and ", PretrainedModels.Of(config).Select(p => p.Role))}: importing, and taking their tokenizer"
                : $"building the {kind} tokenizer");
            var tokenizer = fromPretrained
                ? await pretrained.PrepareAsync(keys, config, Records(run), token)
                : RunTokenizer.Build(config, await registry.ReadRowsAsync<Question>(keys.TrainQuestions, token),
                    await registry.ReadRowsAsync<Rationale>(keys.TeacherRationales, token));
            var folder = Path.Combine(options.Value.WorkRoot, keys.Id, "tokenizer");
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            tokenizer.Save(folder);
            var uploaded = await store.UploadAsync(folder, keys.Tokenizer, token);
            await Records(run).SaveAsync(run.Stage,
                new TokenizerStage(fromPretrained ? $"{kind} ({tokenizer.Kind})" : kind, tokenizer.VocabSize, uploaded.Sha256, uploaded.Size, TokenizerVocabulary.Fingerprint(tokenizer)), token);
            Report(run, RunEventKind.StageCompleted, $"{(fromPretrained ? $"pretrained {tokenizer.Kind}" : kind)} tokenizer, {tokenizer.VocabSize} tokens");
        }
    }

    public async Task<bool> TrainsMentorAsync(BehaviorContext<RunState> context) =>
        RunMethods.TrainsMentor((await ConfigAsync(context.Saga, context.CancellationToken)).Method);

    /// <summary>The mentor learns from the teacher's rationales (the trainers' queue).</summary>
    public async Task SendMentorAsync(BehaviorContext<RunState> context)
    {
        var (run, config) = (context.Saga, await ConfigAsync(context.Saga, context.CancellationToken));
        run.Stage = MentorJob;
        await SendTrainingAsync(context, MentorJob, TrainingRole.Mentor, config.Mentor, config.Mentor.Training, config.ContextLength, [Keys(run).TeacherRationales], null);
    }

    public async Task MentorTrainedAsync(BehaviorContext<RunState, TrainingJobEnded> context)
    {
        var run = context.Saga;
        var mentor = await SaveTrainingAsync(context);
        (run.MentorCheckpointKey, run.MentorDevAccuracy) = (mentor.CheckpointKey, mentor.DevAccuracy);
        await context.Publish(new MentorTrainingCompleted(run.CorrelationId, mentor.CheckpointKey, mentor.DevAccuracy), context.CancellationToken);
    }

    public async Task<bool> AugmentsAsync(BehaviorContext<RunState> context) =>
        (await ConfigAsync(context.Saga, context.CancellationToken)).Augmentation.SamplesPerQuestion > 0;

    /// <summary>The mentor samples rationales for every training question (the augmentation service's queue).</summary>
    public async Task SendAugmentationAsync(BehaviorContext<RunState> context)
    {
        var run = context.Saga;
        var keys = Keys(run);
        var train = await registry.FindAsync(keys.DatasetId("train"), context.CancellationToken)
            ?? throw new InvalidOperationException($"dataset {keys.DatasetId("train")} is missing from the registry.");
        run.Stage = "augmentation";
        await SendAugmentationAsync(context, await ConfigAsync(run, context.CancellationToken), "mentor", train, keys.DatasetId("mentor"), keys.MentorRationales);
    }

    /// <summary>No mentor samples configured (or no mentor): an empty mentor set, so every arm reads the same inputs.</summary>
    public async Task SkipAugmentationAsync(BehaviorContext<RunState> context)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var keys = Keys(run);
        run.Stage = "augmentation";
        await registry.WriteRowsAsync(keys.MentorRationales, Array.Empty<Rationale>(), token);
        await registry.RegisterAsync(keys.DatasetId("mentor"), DatasetRegistry.Rationales, keys.MentorRationales, keys.DatasetId("train"), "none", allowEmpty: true, token);
        await RecordAugmentationAsync(context, new AugmentationStage(0, 0, 0, "none"));
    }

    public async Task MentorAugmentedAsync(BehaviorContext<RunState, QuestionsAugmented> context)
    {
        var outcome = context.Message;
        if (outcome.Error.Length > 0) throw new InvalidOperationException($"mentor augmentation: {outcome.Error}");
        await RecordAugmentationAsync(context, new AugmentationStage(outcome.Samples, outcome.Correct, outcome.QuestionsCovered, outcome.Producer));
    }

    private async Task RecordAugmentationAsync(BehaviorContext<RunState> context, AugmentationStage stage)
    {
        var run = context.Saga;
        await Records(run).SaveAsync("augmentation", stage, context.CancellationToken);
        Report(run, RunEventKind.StageCompleted, $"{stage.Correct}/{stage.Samples} mentor rationales correct, {stage.QuestionsCovered} questions covered");
        (run.MentorRationalesKey, run.MentorSamples, run.MentorCorrect) = (Keys(run).MentorRationales, stage.Samples, stage.Correct);
        await context.Publish(new AugmentationCompleted(run.CorrelationId, Keys(run).MentorRationales, stage.Samples, stage.Correct), context.CancellationToken);
    }

    /// <summary>Every student arm goes to the trainers' queue at once, so replicas (and a replica's concurrent jobs)
    /// train them side by side; the longest go first, so the last to start is a short one and they finish together.</summary>
    public async Task SendStudentsAsync(BehaviorContext<RunState> context)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var keys = Keys(run);
        var config = await ConfigAsync(run, token);
        var teacher = await Records(run).FindAsync<TeacherStage>("teacher", token) ?? throw new InvalidOperationException("the teacher stage has no record.");
        var augmentation = await Records(run).FindAsync<AugmentationStage>("augmentation", token) ?? throw new InvalidOperationException("the augmentation stage has no record.");
        run.Stage = "students";
        var arms = config.Arms.Select(arm =>
        {
            bool augmented = StudentArms.UsesMentorRationales(arm), soft = StudentArms.UsesSoftLabels(arm);
            var training = config.Student.Training with { KdMode = soft ? config.Student.Training.KdMode : KnowledgeDistillationMode.None };
            if (arm == StudentArms.FineTuneCotStepMatched)
                training = StudentArms.StepMatched(training, teacher.Kept, teacher.Kept + augmentation.Correct);
            int examples = teacher.Kept + (augmented ? augmentation.Correct : 0);
            // Work in example passes; a mentor forward per example (soft labels) costs about half as much again.
            double work = (double)examples * training.Epochs * (soft ? 1.5 : 1.0);
            return (Arm: arm, Training: training, Augmented: augmented, Soft: soft, Work: work);
        });
        foreach (var a in arms.OrderByDescending(a => a.Work))
        {
            string[] rationales = a.Augmented ? [keys.TeacherRationales, keys.MentorRationales] : [keys.TeacherRationales];
            await SendTrainingAsync(context, a.Arm, TrainingRole.Student, config.Student, a.Training, config.ContextLength, rationales, a.Soft ? SoftLabelsFrom(config, run, a.Arm) : null);
        }
    }

    public async Task StudentTrainedAsync(BehaviorContext<RunState, TrainingJobEnded> context)
    {
        var run = context.Saga;
        var student = await SaveTrainingAsync(context);
        run.StudentCheckpointKeys = [.. run.StudentCheckpointKeys.Where(k => k != student.CheckpointKey), student.CheckpointKey];
    }

    /// <summary>Every checkpoint goes to the evaluators' queue at once: replicas evaluate them side by side.</summary>
    public async Task SendEvaluationsAsync(BehaviorContext<RunState> context)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var config = await ConfigAsync(run, token);
        await context.Publish(new StudentTrainingCompleted(run.CorrelationId, run.StudentCheckpointKeys), token);
        run.Stage = "evaluation";
        if (RunMethods.TrainsMentor(config.Method)) await SendEvaluationAsync(context, MentorJob, config.Mentor.Training);
        foreach (var arm in config.Arms) await SendEvaluationAsync(context, arm, config.Student.Training);
    }

    public Task CheckpointEvaluatedAsync(BehaviorContext<RunState, CheckpointEvaluated> context) => SaveEvaluationAsync(context);

    /// <summary>Every evaluation is in: the report, composed from the stage records (a run replayed after a restart keeps the one it wrote).</summary>
    public async Task ReportAsync(BehaviorContext<RunState> context)
    {
        var (run, token) = (context.Saga, context.CancellationToken);
        var keys = Keys(run);
        var config = await ConfigAsync(run, token);
        run.Stage = "report";
        if (await store.StatAsync(keys.Report, token) is null)
        {
            var records = Records(run);
            var data = await records.FindAsync<DataStage>("data", token) ?? throw new InvalidOperationException("the data stage has no record.");
            var splits = new DatasetPreparation.Splits(
                await registry.ReadRowsAsync<Question>(keys.TrainQuestions, token),
                await registry.ReadRowsAsync<Question>(keys.DevQuestions, token),
                await registry.ReadRowsAsync<Question>(keys.TestQuestions, token));
            var teacher = await records.FindAsync<TeacherStage>("teacher", token) ?? throw new InvalidOperationException("the teacher stage has no record.");
            var augmentation = await records.FindAsync<AugmentationStage>("augmentation", token) ?? throw new InvalidOperationException("the augmentation stage has no record.");
            var mentor = RunMethods.TrainsMentor(config.Method) ? await TrainingRecordAsync(run, MentorJob, token) : null;
            var students = new List<(string Arm, TrainingStage Job)>();
            foreach (var arm in config.Arms) students.Add((arm, await TrainingRecordAsync(run, arm, token)));
            var evaluations = new Dictionary<string, EvaluationStage>();
            foreach (var job in mentor is null ? config.Arms : config.Arms.Prepend(MentorJob))
                evaluations[job] = await records.FindAsync<EvaluationStage>($"evaluation-{job}", token) ?? throw new InvalidOperationException($"the evaluation of {job} has no record.");
            await reportWriter.WriteAsync(keys, config, data, splits, teacher, mentor, augmentation, students, evaluations, token);
        }
        run.ReportKey = keys.Report;
        Report(run, RunEventKind.StageCompleted, $"report at {keys.Report}");
        await context.Publish(new EvaluationCompleted(run.CorrelationId, keys.Report), token);
    }

    /// <summary>Nothing left to do: the attempt ends, and the run is no longer carried on after a restart.</summary>
    public async Task CompleteAsync(BehaviorContext<RunState> context)
    {
        var run = context.Saga;
        await unfinished.ClearAsync(run.CorrelationId, CancellationToken.None);
        var results = await reportWriter.ReadResultsAsync(Keys(run), context.CancellationToken);
        await EndAsync(run, RunStatus.Completed, Distillation.Pipeline.RunReport.ComparisonMarkdown(results));
    }

    /// <summary>A completed run given questions that make no round (all refused or already done) has nothing left to do.</summary>
    public Task SettleAsync(BehaviorContext<RunState> context) => unfinished.ClearAsync(context.Saga.CorrelationId, CancellationToken.None);

    public async Task FailAsync(BehaviorContext<RunState> context, Exception error)
    {
        var run = context.Saga;
        var reason = error is global::Grpc.Core.RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : error.Message;
        logger.LogError(error, "Run {Run} failed during {Stage}", run.CorrelationId, run.Stage);
        (run.FailedStage, run.FailureReason) = (run.Stage, reason);
        await CancelTrainingAsync(context, "the run failed");
        await BestEffortAsync(run, "publishing RunFailed", () => context.Publish(new RunFailed(run.CorrelationId, run.Stage, reason), CancellationToken.None));
        await BestEffortAsync(run, "clearing the unfinished marker", () => unfinished.ClearAsync(run.CorrelationId, CancellationToken.None));
        await EndAsync(run, RunStatus.Failed, $"{run.Stage}: {reason}");
    }

    public async Task CancelAsync(BehaviorContext<RunState, RunCancellationRequested> context)
    {
        var run = context.Saga;
        logger.LogInformation("Run {Run} cancelled during {Stage}", run.CorrelationId, run.Stage);
        run.FailureReason = context.Message.Reason;
        await CancelTrainingAsync(context, "the run was cancelled");
        await BestEffortAsync(run, "clearing the unfinished marker", () => unfinished.ClearAsync(run.CorrelationId, CancellationToken.None));
        await EndAsync(run, RunStatus.Cancelled, $"cancelled during {run.Stage}");
    }

    /// <summary>Training jobs the run still waits for are stopped wherever they train.</summary>
    private async Task CancelTrainingAsync(BehaviorContext<RunState> context, string reason)
    {
        foreach (var job in context.Saga.PendingTraining)
            await BestEffortAsync(context.Saga, $"cancelling training job {job}",
                () => context.Publish(new CancelTrainingJob(Keys(context.Saga).TrainingJobId(job), reason), CancellationToken.None));
        context.Saga.PendingTraining.Clear();
        context.Saga.PendingEvaluations.Clear();
    }

    /// <summary>Ending a run must not fail halfway (the run would be left in a state nothing moves on from): what goes
    /// wrong while it ends is logged, and the run ends anyway.</summary>
    private async Task BestEffortAsync(RunState run, string what, Func<Task> step)
    {
        try { await step(); }
        catch (Exception e) { logger.LogWarning(e, "Run {Run}: {What} failed while the run ended", run.CorrelationId, what); }
    }

    // ---- commands to the other services' queues, and what their answers leave in the store ----

    private async Task SendAnnotationAsync(BehaviorContext<RunState> context, RunConfig config, string name, string questionsKey, int questions, string outputKey)
    {
        Report(context.Saga, RunEventKind.StageStarted, $"teacher annotation: {questions} questions × {config.Teacher.RationalesPerQuestion}", total: questions);
        await context.SendToQueueAsync(AnnotateQuestions.Queue,
            new AnnotateQuestions(Keys(context.Saga).AnnotationId(name), questionsKey, config.Teacher.RationalesPerQuestion, outputKey, config.Teacher.GatewayTeacher),
            context.CancellationToken);
    }

    private async Task SendAugmentationAsync(BehaviorContext<RunState> context, RunConfig config, string name, DatasetRecord questions, string outputId, string outputKey)
    {
        var a = config.Augmentation;
        Report(context.Saga, RunEventKind.StageStarted, $"mentor augmentation: {a.SamplesPerQuestion} samples × {questions.Rows} questions (T={a.Temperature}, top-k {a.TopK})", total: questions.Rows);
        var sampling = new SamplingParameters { Temperature = a.Temperature, TopK = a.TopK, TopP = a.TopP, MaxNewTokens = a.MaxNewTokens, Seed = config.Seed };
        await context.SendToQueueAsync(AugmentQuestions.Queue, new AugmentQuestions(Keys(context.Saga).AugmentationId(name), context.Saga.MentorCheckpointKey!,
            questions.DatasetId, outputId, outputKey, a.SamplesPerQuestion, sampling.ToByteArray(), config.FrozenDtype), context.CancellationToken);
    }

    private SoftLabelSource SoftLabelsFrom(RunConfig config, RunState run, string job) => config.Student.SoftLabels switch
    {
        SoftLabelSources.MentorServer => new SoftLabelSource
        {
            Kind = SoftLabelSourceKind.MentorServer, MentorServerAddress = options.Value.MentorServerAddress, TopK = config.Student.SoftLabelTopK ?? options.Value.SoftLabelTopK,
        },
        // The trainer writes the job's store through the mentor-server (which holds the mentor since augmentation), then trains from it.
        SoftLabelSources.Stored => new SoftLabelSource
        {
            Kind = SoftLabelSourceKind.Stored, StoredKey = Keys(run).SoftLabelStore(job), MentorServerAddress = options.Value.MentorServerAddress,
            MentorCheckpointKey = run.MentorCheckpointKey!, MentorDtype = config.FrozenDtype, TopK = config.Student.SoftLabelTopK ?? options.Value.StoredSoftLabelTopK,
        },
        _ => new SoftLabelSource { Kind = SoftLabelSourceKind.InProcess, MentorCheckpointKey = run.MentorCheckpointKey!, MentorDtype = config.FrozenDtype },
    };

    /// <summary>A training job on the trainers' shared queue (whichever replica is free takes it; one whose replica
    /// dies is taken over from its last checkpoint). What it learns from is kept with the run until it ends.</summary>
    private async Task SendTrainingAsync(BehaviorContext<RunState> context, string job, TrainingRole role, ModelConfig model, ReasoningTrainingOptions training,
        int contextLength, IReadOnlyList<string> rationaleKeys, SoftLabelSource? softLabels, string? trainQuestionsKey = null, string? startFrom = null)
    {
        var run = context.Saga;
        var keys = Keys(run);
        // A pretrained model starts from its imported weights (or, continuing, from startFrom) and keeps its own shape.
        startFrom ??= model.Pretrained is null ? null
            : await pretrained.KeyAsync(Records(run), role == TrainingRole.Mentor ? PretrainedModels.Mentor : PretrainedModels.Student, context.CancellationToken);
        var shape = model.Pretrained is null
            ? new ModelShape { Layers = model.LayerCount, Heads = model.HeadCount, Embedding = model.EmbeddingSize, ContextLength = contextLength }
            : new ModelShape { ContextLength = contextLength };
        var request = new StartTrainingJobRequest
        {
            JobId = keys.TrainingJobId(job),
            Role = role,
            TrainQuestionsKey = trainQuestionsKey ?? keys.TrainQuestions,
            DevQuestionsKey = keys.DevQuestions,
            TestQuestionsKey = keys.TestQuestions,
            TokenizerKey = keys.Tokenizer,
            Model = shape,
            Training = training.ToProto(),
            SoftLabels = softLabels ?? new SoftLabelSource { Kind = SoftLabelSourceKind.None },
            OutputKey = keys.Checkpoints(job),
            InitCheckpointKey = startFrom ?? "",
        };
        request.RationaleKeys.AddRange(rationaleKeys);
        var via = softLabels?.Kind switch
        {
            SoftLabelSourceKind.MentorServer => "the mentor-server", SoftLabelSourceKind.Stored => $"a top-{softLabels.TopK} store", _ => "the mentor in process",
        };
        var soft = softLabels is null ? "" : $", soft labels from {via} ({training.KdMode}, λ={training.Lambda}, T={training.Temperature})";
        Report(run, job, RunEventKind.StageStarted, $"{job}: {model.Describe()}, {training.Epochs} epochs{soft}{(startFrom is null ? "" : $", starting from {startFrom}")}");
        run.PendingTraining.Add(job);
        run.TrainingInputs[job] = new TrainingInputs(rationaleKeys, softLabels is null ? null : run.MentorCheckpointKey,
            softLabels?.Kind switch
            {
                null => null,
                SoftLabelSourceKind.MentorServer => $"mentor-server at {softLabels.MentorServerAddress}",
                SoftLabelSourceKind.Stored => $"store {softLabels.StoredKey} (top-{softLabels.TopK})",
                _ => "in process",
            }, startFrom);
        await context.SendToQueueAsync(TrainModel.Queue, TrainModel.For(request, reopen: run.Retrying), context.CancellationToken);
    }

    /// <summary>A training job ended: recorded as a stage when it completed, the run's failure otherwise.</summary>
    private async Task<TrainingStage> SaveTrainingAsync(BehaviorContext<RunState, TrainingJobEnded> context)
    {
        var run = context.Saga;
        var ended = context.Message.ReadJob();
        var job = Keys(run).JobName(ended.JobId);
        run.PendingTraining.Remove(job);
        if (ended.State != JobState.Completed)
            throw new InvalidOperationException($"training job {ended.JobId} ended {ended.State}{(ended.Error.Length > 0 ? $": {ended.Error}" : "")}");
        var inputs = run.TrainingInputs[job];
        var stage = new TrainingStage(ended.JobId, ended.BestCheckpoint.Key, ended.BestCheckpoint.Sha256, ended.BestCheckpoint.SizeBytes, ended.Outcome.Key,
            ended.Examples, ended.Parameters, ended.DevAccuracy, ended.TestAccuracy, ended.SelectedEpoch, inputs.RationaleKeys, inputs.SoftLabelsFrom, inputs.SoftLabelsVia,
            inputs.StartedFrom);
        await Records(run).SaveAsync($"training-{job}", stage, context.CancellationToken);
        Report(run, job, RunEventKind.StageCompleted, $"{job}: dev-selected epoch {stage.SelectedEpoch}: dev {stage.DevAccuracy:P1}, test {stage.TestAccuracy:P1}");
        return stage;
    }

    private async Task<TrainingStage> TrainingRecordAsync(RunState run, string job, CancellationToken cancellationToken) =>
        await Records(run).FindAsync<TrainingStage>($"training-{job}", cancellationToken) ?? throw new InvalidOperationException($"training job {job} has no record.");

    /// <summary>A checkpoint's test accuracy from the evaluators' queue, with the per-example report under reports/evaluations/{job}.</summary>
    private async Task SendEvaluationAsync(BehaviorContext<RunState> context, string job, ReasoningTrainingOptions training)
    {
        var run = context.Saga;
        var keys = Keys(run);
        var checkpoint = await TrainingRecordAsync(run, job, context.CancellationToken);
        Report(run, "evaluation", RunEventKind.StageStarted, $"evaluating {job} on the test set");
        var request = new EvaluateRequest
        {
            CheckpointKey = checkpoint.CheckpointKey, DatasetKey = keys.TestQuestions, MaxNewTokens = training.EvalMaxNewTokens, BatchSize = training.EvalBatchSize,
            ReportKey = keys.Evaluation(job), Dtype = (await ConfigAsync(run, context.CancellationToken)).FrozenDtype,
        };
        run.PendingEvaluations.Add(job);
        await context.SendToQueueAsync(EvaluateCheckpoint.Queue, EvaluateCheckpoint.For(keys.EvaluationId(job), request), context.CancellationToken);
    }

    private async Task<EvaluationStage> SaveEvaluationAsync(BehaviorContext<RunState, CheckpointEvaluated> context)
    {
        var run = context.Saga;
        var job = Keys(run).JobName(context.Message.EvaluationId, "evaluation-");
        run.PendingEvaluations.Remove(job);
        if (context.Message.Error.Length > 0) throw new InvalidOperationException($"evaluating {job}: {context.Message.Error}");
        var report = context.Message.ReadReport();
        var stage = new EvaluationStage(job, report.Accuracy, report.Correct, report.Total, report.Report.Key, report.Report.Sha256, report.Report.SizeBytes);
        await Records(run).SaveAsync($"evaluation-{job}", stage, context.CancellationToken);
        Report(run, "evaluation", RunEventKind.StageCompleted, $"{job}: test accuracy {report.Accuracy:P1} ({report.Correct}/{report.Total})");
        return stage;
    }

    // ---- the services' progress, as the run's feed shows it ----

    public void AnnotationProgressed(BehaviorContext<RunState, QuestionsAnnotationProgressed> context)
    {
        var p = context.Message;
        Report(context.Saga, RunEventKind.StageProgress, $"{p.Kept}/{p.Rationales} kept", p.QuestionsDone, p.Questions);
    }

    public void AugmentationProgressed(BehaviorContext<RunState, QuestionsAugmentationProgressed> context) =>
        Report(context.Saga, RunEventKind.StageProgress, "", context.Message.QuestionsDone, context.Message.Questions);

    public void TrainingProgressed(BehaviorContext<RunState, TrainingJobProgressed> context)
    {
        var p = context.Message.ReadProgress();
        var job = Keys(context.Saga).JobName(p.JobId);
        Report(context.Saga, job, RunEventKind.StageProgress, $"epoch {p.Epoch}/{p.Epochs} loss {p.Loss:F3}", p.Step, p.TotalSteps, p);
    }

    /// <summary>A command the service gave up on after its retries: the stage fails.</summary>
    public static void Faulted<T>(BehaviorContext<RunState, Fault<T>> context, string what) where T : class =>
        throw new InvalidOperationException($"{what}: {context.Message.Exceptions.FirstOrDefault()?.Message ?? "the service faulted"}");

    // ---- helpers ----

    public static RunKeys Keys(RunState run) => new(run.CorrelationId);

    private RunProgressFeed Feed(RunState run) => feeds.Find(run.CorrelationId) ?? feeds.Begin(run.CorrelationId);

    private RunStageRecords Records(RunState run) => new(store, Keys(run));

    private void Report(RunState run, RunEventKind kind, string message, double done = 0, double total = 0) =>
        Report(run, run.Stage, kind, message, done, total);

    // Student arms train side by side, so each names its own stage.
    private void Report(RunState run, string stage, RunEventKind kind, string message, double done = 0, double total = 0, TrainingProgress? training = null) =>
        Feed(run).Append(new RunEvent
        {
            Kind = kind, Stage = stage, Message = message, Done = done, Total = total, Training = training, Status = RunViews.Status(run.CurrentState),
        });

    /// <summary>The attempt ends: the run as GetRun shows it is stored beside the run (a restarted service, whose state
    /// machine no longer holds the run, still answers for it), and the watchers' last event is kept for
    /// <see cref="AnnounceEnd"/>, once the run is in its final state.</summary>
    private async Task EndAsync(RunState run, RunStatus status, string message, RunStatus? runStatus = null)
    {
        (run.EndStatus, run.EndMessage) = (status, message);
        var view = run.ToProto();
        view.Status = runStatus ?? status;
        view.UpdatedAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await BestEffortAsync(run, "storing how the run ended", async () =>
        {
            using var json = new MemoryStream(Encoding.UTF8.GetBytes(JsonFormatter.Default.Format(view)));
            await store.PutAsync(Keys(run).Ended, json, CancellationToken.None);
        });
    }

    /// <summary>Tells the run's watchers it ended. Called after the transition to the final state, so a client that
    /// asks GetRun on this event finds the run there.</summary>
    public void AnnounceEnd(RunState run)
    {
        if (run.EndStatus is not { } status) return;
        Feed(run).Append(new RunEvent { Kind = RunEventKind.RunEnded, Stage = run.Stage, Message = run.EndMessage ?? "", Status = status });
        (run.EndStatus, run.EndMessage) = (null, null);
    }

    private async Task<string> ReadTextAsync(string key, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer, cancellationToken);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
