using System.Diagnostics;
using System.Text.Json;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Evaluation;
using MentorKd.Distillation.Tasks;
using MentorKd.Distillation.Teachers;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Runtime;
using MentorKd.Modeling.Tokenization;
using MentorKd.Modeling.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Distillation.Pipeline;

/// <summary>
/// Mentor-KD end to end in one process: data → teacher annotation and filtering → mentor fine-tuning →
/// mentor augmentation → student arms (Fine-tune-CoT, Mentor-KD, and the two ablations, same budget) →
/// evaluation → report. Each stage leaves its output in the run folder; a restarted run skips what is done and
/// resumes unfinished training from its last epoch checkpoint.
/// </summary>
public sealed class MentorKdPipeline(RunConfig config, RunFolder folder, IPipelineObserver observer)
{
    public async Task<RunResults> RunAsync(CancellationToken cancellationToken = default)
    {
        RunConfigValidator.Validate(config);
        TorchRuntime.SetThreads(config.Threads);
        var device = TorchRuntime.ResolveDevice(config.Device);
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(folder.Root);
        File.WriteAllText(folder.Config, JsonSerializer.Serialize(config, RunConfig.Json));

        var splits = PrepareData();
        var questions = splits.Train.Concat(splits.Dev).Concat(splits.Test).ToDictionary(q => q.Id);
        var teacherRationales = await AnnotateAsync(splits, cancellationToken);
        var annotation = AnnotationSummary.Of(teacherRationales);
        var tokenizer = BuildTokenizer(splits, teacherRationales);

        // Mentor: Fine-tune-CoT on the filtered teacher rationales, at a larger size.
        var (teacherExamples, teacherTooLong) = DistillationExamples.Build(teacherRationales, questions, tokenizer, config.ContextLength);
        Report("data", $"{teacherExamples.Count} teacher examples ({teacherTooLong} too long for the context)");
        using var mentor = NewModel(config.Mentor, tokenizer, device, config.Seed);
        var mentorOutcome = TrainOrLoad("mentor", mentor, teacherExamples, softLabels: null, config.Mentor.Training, tokenizer, splits, cancellationToken);
        var mentorTest = EvaluateAndSave("mentor", mentor, tokenizer, splits.Test, config.Mentor.Training);

        // Augmentation: the mentor samples rationales for every training question; correct ones are kept.
        var mentorRationales = Augment(mentor, tokenizer, splits.Train);
        var augmentation = AugmentationSummary.Of(splits.Train, teacherRationales, mentorRationales);
        var (mentorExamples, _) = DistillationExamples.Build(mentorRationales, questions, tokenizer, config.ContextLength);

        // The mentor is frozen: with the clean mask its soft labels are computed once per sequence and reused every epoch.
        ISoftLabelSource inProcess = new InProcessMentorSoftLabels(mentor, "in-process mentor");
        using var cached = config.Student.Training.KdMask == KnowledgeDistillationMask.Clean ? new CachedSoftLabels(inProcess) : null;
        var softLabels = (ISoftLabelSource?)cached ?? inProcess;
        var arms = new List<ArmResult>();
        long studentParameters = 0;
        foreach (var arm in config.Arms)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var examples = StudentArms.UsesMentorRationales(arm) ? teacherExamples.Concat(mentorExamples).ToList() : teacherExamples.ToList();
            // Every arm starts from the same initial weights (same seed) and trains with the same options.
            using var student = NewModel(config.Student, tokenizer, device, config.Seed + 1);
            studentParameters = student.ParameterCount;
            var training = config.Student.Training with { KdMode = StudentArms.UsesSoftLabels(arm) ? config.Student.Training.KdMode : KnowledgeDistillationMode.None };
            if (arm == StudentArms.FineTuneCotStepMatched)
                training = StudentArms.StepMatched(training, examples.Count, teacherExamples.Count + mentorExamples.Count);
            var outcome = TrainOrLoad(arm, student, examples, StudentArms.UsesSoftLabels(arm) ? softLabels : null, training, tokenizer, splits, cancellationToken);
            var test = EvaluateAndSave(arm, student, tokenizer, splits.Test, training);
            arms.Add(new ArmResult(arm, examples.Count, outcome, test));
        }

        var results = new RunResults
        {
            Name = config.Name,
            Task = config.Task.Name,
            Teacher = teacherRationales.FirstOrDefault()?.Producer ?? config.Teacher.Kind,
            TrainQuestions = splits.Train.Count,
            DevQuestions = splits.Dev.Count,
            TestQuestions = splits.Test.Count,
            Annotation = annotation,
            MentorParameters = mentor.ParameterCount,
            StudentParameters = studentParameters,
            Mentor = mentorOutcome,
            MentorTestAccuracy = mentorTest,
            Augmentation = augmentation,
            Arms = arms,
            Seconds = clock.Elapsed.TotalSeconds,
        };
        File.WriteAllText(folder.Results, JsonSerializer.Serialize(results, RunConfig.Json));
        RunReport.Write(folder, config, results);
        LearningCurves.Write(folder, results);
        return results;
    }

    private DatasetPreparation.Splits PrepareData()
    {
        if (File.Exists(folder.TrainQuestions) && File.Exists(folder.DevQuestions) && File.Exists(folder.TestQuestions))
            return new DatasetPreparation.Splits(JsonLines.Read<Question>(folder.TrainQuestions), JsonLines.Read<Question>(folder.DevQuestions), JsonLines.Read<Question>(folder.TestQuestions));
        observer.StageStarted("data", $"preparing {config.Task.Name} questions ({config.Task.Source})", 1);
        var splits = DatasetPreparation.Prepare(config);
        JsonLines.Write(folder.TestQuestions, splits.Test);
        JsonLines.Write(folder.DevQuestions, splits.Dev);
        JsonLines.Write(folder.TrainQuestions, splits.Train);
        observer.StageCompleted("data", $"{splits.Train.Count} train / {splits.Dev.Count} dev / {splits.Test.Count} test questions");
        return splits;
    }

    private async Task<IReadOnlyList<Rationale>> AnnotateAsync(DatasetPreparation.Splits splits, CancellationToken cancellationToken)
    {
        if (File.Exists(folder.TeacherRationales)) return JsonLines.Read<Rationale>(folder.TeacherRationales);
        var teacher = TeacherFactory.Create(config, splits.Train.Concat(splits.Dev).ToList());
        var asked = DatasetPreparation.TeacherQuestions(config, splits.Train);
        observer.StageStarted("teacher", $"teacher annotation ({teacher.Name})", asked.Count);
        var rationales = new List<Rationale>();
        for (int i = 0; i < asked.Count; i++)
        {
            rationales.AddRange(await teacher.AnnotateAsync(asked[i], config.Teacher.RationalesPerQuestion, cancellationToken));
            observer.StageProgress("teacher", i + 1, $"{rationales.Count(r => r.Correct)}/{rationales.Count} kept");
        }
        JsonLines.Write(folder.TeacherRationales, rationales);
        var summary = AnnotationSummary.Of(rationales);
        observer.StageCompleted("teacher", $"{summary.Kept}/{summary.Rationales} rationales kept ({summary.KeptRate:P1}) for {asked.Count} questions");
        return rationales;
    }

    private ITokenizer BuildTokenizer(DatasetPreparation.Splits splits, IReadOnlyList<Rationale> teacherRationales)
    {
        if (Directory.Exists(folder.Tokenizer)) return TokenizerFiles.Load(folder.Tokenizer);
        var tokenizer = RunTokenizer.Build(config, splits.Train, teacherRationales);
        tokenizer.Save(folder.Tokenizer);
        return tokenizer;
    }

    private GptLanguageModel NewModel(ModelConfig model, ITokenizer tokenizer, Device device, int seed)
    {
        manual_seed(seed);
        var lm = new GptLanguageModel(GptConfig.Small(tokenizer.VocabSize, model.Layers, model.Heads, model.Embedding, config.ContextLength, model.Dropout, tokenizer.EndOfTextId));
        if (device.type != DeviceType.CPU) lm.to(device);
        return lm;
    }

    private TrainingOutcome TrainOrLoad(string job, GptLanguageModel model, IReadOnlyList<LanguageModelExample> examples, ISoftLabelSource? softLabels,
        ReasoningTrainingOptions options, ITokenizer tokenizer, DatasetPreparation.Splits splits, CancellationToken cancellationToken)
    {
        var done = folder.StageResult(job);
        if (File.Exists(done))
        {
            using (var best = GptCheckpoint.LoadModel(Path.Combine(folder.JobCheckpoints(job), "best")))
                model.load_state_dict(best.state_dict());
            return JsonSerializer.Deserialize<TrainingOutcome>(File.ReadAllText(done), RunConfig.Json)!;
        }

        int stepsPerEpoch = (examples.Count + options.BatchSize - 1) / options.BatchSize;
        observer.StageStarted(job, $"{job}: {model.ParameterCount / 1e6:F2}M parameters, {examples.Count} examples" + (softLabels is null ? "" : $", soft labels ({options.KdMode}, λ={options.Lambda}, T={options.Temperature})"),
            stepsPerEpoch * options.Epochs);
        var trainer = new ReasoningModelTrainer(options, tokenizer, splits.Dev, splits.Test);
        var outcome = trainer.Train(job, model, examples, softLabels, folder.JobCheckpoints(job),
            progress: p => observer.StageProgress(job, p.Step, p.Phase == "train" ? $"epoch {p.Epoch}/{p.Epochs} loss {p.Loss:F3}" : $"epoch {p.Epoch}/{p.Epochs} evaluating"),
            onEpoch: record => JsonLines.Append(folder.Metrics, record), cancellationToken: cancellationToken);
        Directory.CreateDirectory(folder.Stages);
        File.WriteAllText(done, JsonSerializer.Serialize(outcome, RunConfig.Json));
        var selected = outcome.DevSelected;
        observer.StageCompleted(job, $"{job}: dev-selected epoch {selected.Epoch}: dev {selected.DevAccuracy:P1}, test {selected.TestAccuracy:P1} ({outcome.Seconds:F0} s)");
        return outcome;
    }

    private double EvaluateAndSave(string job, GptLanguageModel model, ITokenizer tokenizer, IReadOnlyList<Question> test, ReasoningTrainingOptions options)
    {
        var result = Evaluator.Evaluate(model, tokenizer, test, options.EvalMaxNewTokens, options.EvalBatchSize);
        JsonLines.Write(folder.Evaluation(job), result.Examples);
        return result.Accuracy;
    }

    private IReadOnlyList<Rationale> Augment(GptLanguageModel mentor, ITokenizer tokenizer, IReadOnlyList<Question> train)
    {
        if (File.Exists(folder.MentorRationales)) return JsonLines.Read<Rationale>(folder.MentorRationales);
        var a = config.Augmentation;
        if (a.SamplesPerQuestion == 0)
        {
            JsonLines.Write(folder.MentorRationales, Array.Empty<Rationale>());
            return [];
        }
        observer.StageStarted("augmentation", $"mentor augmentation: {a.SamplesPerQuestion} samples × {train.Count} questions (T={a.Temperature}, top-k {a.TopK})", train.Count);
        var sampling = new GenerationOptions
        {
            MaxNewTokens = a.MaxNewTokens,
            Temperature = a.Temperature,
            TopK = a.TopK,
            TopP = a.TopP,
            SamplesPerPrompt = a.SamplesPerQuestion,
            Seed = config.Seed,
        };
        var rationales = MentorAugmenter.Augment(mentor, tokenizer, train, sampling, a.BatchSize, $"mentor({mentor.ParameterCount / 1e6:F1}M)",
            done => observer.StageProgress("augmentation", done, ""));
        JsonLines.Write(folder.MentorRationales, rationales);
        observer.StageCompleted("augmentation", $"{rationales.Count(r => r.Correct)}/{rationales.Count} mentor rationales correct ({(rationales.Count == 0 ? 0 : (double)rationales.Count(r => r.Correct) / rationales.Count):P1})");
        return rationales;
    }

    private void Report(string stage, string message)
    {
        observer.StageStarted(stage, message, 1);
        observer.StageCompleted(stage, message);
    }
}
