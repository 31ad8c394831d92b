using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.RegularExpressions;
using MentorKd.Distillation.Evaluation;
using MentorKd.Distillation.Tasks;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Runtime;

namespace MentorKd.Distillation.Pipeline;

/// <summary>Checks a run config before any work starts; the first problem is thrown, naming its field.</summary>
public static partial class RunConfigValidator
{
    public static void Validate(RunConfig config, RunLimits? limits = null)
    {
        limits ??= RunLimits.Default;
        ValidateAgainst(limits, config);
        var roots = limits.DataRoots;
        Require(config.Threads >= 0, "threads", $"must be 0 (all cores) or positive (got {config.Threads}).");
        Require(config.Device is "cpu" || config.Device.StartsWith("cuda"), "device", $"'{config.Device}' is not cpu, cuda or cuda:N.");
        Require(config.Tokenizer is null or RunTokenizer.Word or RunTokenizer.Char or RunTokenizer.Pretrained, "tokenizer",
            $"'{config.Tokenizer}' is not {RunTokenizer.Word}, {RunTokenizer.Char} or {RunTokenizer.Pretrained}.");
        Require(config.ContextLength is > 16 and <= 4096, "context_length", $"must be in 17..4096 (got {config.ContextLength}).");
        Require(TorchRuntime.DTypes.Contains(config.FrozenDtype), "frozen_dtype", $"'{config.FrozenDtype}' is not {string.Join(" or ", TorchRuntime.DTypes)}.");

        var task = config.Task;
        Require(TaskNames.All.Contains(task.Name), "task.name", $"unknown task '{task.Name}' (known: {string.Join(", ", TaskNames.All)}).");
        Require(task.Source is "synthetic" or "files", "task.source", $"'{task.Source}' is not synthetic or files.");
        if (task.Source == "synthetic")
        {
            Require(SyntheticTasks.TryGet(task.Name, out var generator), "task.name", $"task '{task.Name}' has no generator (synthetic: {string.Join(", ", SyntheticTasks.Names)}).");
            Require(task.TrainQuestions > 0, "task.train_questions", $"must be positive (got {task.TrainQuestions}).");
            Require(task.DevQuestions > 0, "task.dev_questions", $"must be positive (got {task.DevQuestions}).");
            Require(task.TestQuestions > 0, "task.test_questions", $"must be positive (got {task.TestQuestions}).");
            if (task.Difficulty is { } d)
                Require(d >= generator.MinDifficulty && d <= generator.MaxDifficulty, "task.difficulty", $"must be in {generator.MinDifficulty}..{generator.MaxDifficulty} for {task.Name} (got {d}).");
            if (task.DifficultyRange is { } range)
            {
                Require(task.Difficulty is null, "task.difficulty_range", "and task.difficulty are both set: give one.");
                Require(range.Count == 2 && range[0] <= range[1] && range[0] >= generator.MinDifficulty && range[1] <= generator.MaxDifficulty, "task.difficulty_range",
                    $"must be [min, max] within {generator.MinDifficulty}..{generator.MaxDifficulty} for {task.Name} (got [{string.Join(", ", range)}]).");
            }
        }
        else
        {
            Require(task.Files is not null, "task.files", "is required when task.source is files.");
            RequireFile(config, roots, task.Files!.TrainQuestions, "task.files.train_questions");
            RequireFile(config, roots, task.Files.Test, "task.files.test");
            Require(task.Files.DevShare is > 0 and < 0.5, "task.files.dev_share", $"must be in (0, 0.5) (got {task.Files.DevShare}).");
        }

        var teacher = config.Teacher;
        Require(teacher.Kind is "simulated" or "replay" or "openai", "teacher.kind", $"'{teacher.Kind}' is not simulated, replay or openai.");
        if (teacher.Kind == "simulated")
            Require(SyntheticTasks.TryGet(task.Name, out _), "teacher.kind", $"the simulated teacher needs a synthetic task; '{task.Name}' has no generator (use replay or openai).");
        else if (teacher.Kind == "replay")
            RequireFile(config, roots, teacher.File, "teacher.file");
        else
            ValidateLlmTeacher(teacher);
        Require(teacher.AnnotatedQuestions is null or > 0, "teacher.annotated_questions", $"must be positive or null for all (got {teacher.AnnotatedQuestions}).");
        Require(teacher.RationalesPerQuestion > 0, "teacher.rationales_per_question", $"must be positive (got {teacher.RationalesPerQuestion}).");
        Require(teacher.ErrorRate is >= 0 and < 1, "teacher.error_rate", $"must be in [0, 1) (got {teacher.ErrorRate}).");

        ValidateModel(config, roots, config.Mentor, "mentor");
        ValidateModel(config, roots, config.Student, "student");
        ValidatePretrainedTokenizer(config, roots);
        Require(config.Student.SoftLabels is SoftLabelSources.InProcess or SoftLabelSources.MentorServer or SoftLabelSources.Stored, "student.soft_labels",
            $"must be {SoftLabelSources.InProcess}, {SoftLabelSources.MentorServer} or {SoftLabelSources.Stored} (got '{config.Student.SoftLabels}').");
        Require(config.Student.SoftLabelTopK is null or (> 0 and <= 4096), "student.soft_label_top_k", $"must be in 1..4096 or null (got {config.Student.SoftLabelTopK}).");
        // Over gRPC the mentor-server sends top-k log-probabilities at T, not logits: the KL term uses them as they are,
        // while mse compares logits and ce takes the mentor's softmax at T = 1, neither of which they carry.
        var kdMode = config.Student.Training.KdMode;
        var soft = config.Arms.Where(StudentArms.UsesSoftLabels).ToList();
        Require(kdMode != KnowledgeDistillationMode.None || soft.Count == 0 || !RunMethods.TrainsMentor(config.Method), "student.training.kd_mode",
            $"is none, but the arm{(soft.Count > 1 ? "s" : "")} {string.Join(" and ", soft)} learn{(soft.Count > 1 ? "" : "s")} from the mentor's soft labels: use kl, mse or ce (kl when student.training is left out).");
        Require(config.Student.SoftLabels == SoftLabelSources.InProcess || kdMode == KnowledgeDistillationMode.None || KnowledgeDistillationModes.NeedsOnlyTheDistribution(kdMode),
            "student.training.kd_mode", $"'{kdMode.ToString().ToLowerInvariant()}' needs the mentor's logits, and {config.Student.SoftLabels} soft labels are " +
            $"log-probabilities at T: use kl, reverse_kl or jsd, or student.soft_labels {SoftLabelSources.InProcess}.");
        // A store keeps the positions that predict target tokens: the faithful mask's padding positions are not in it.
        Require(config.Student.SoftLabels != SoftLabelSources.Stored || config.Student.Training.KdMask == KnowledgeDistillationMask.Clean,
            "student.training.kd_mask", $"must be clean with {SoftLabelSources.Stored} soft labels: a store covers the positions that predict target tokens only.");

        var augmentation = config.Augmentation;
        Require(augmentation.SamplesPerQuestion >= 0, "augmentation.samples_per_question", $"must not be negative (got {augmentation.SamplesPerQuestion}).");
        Require(augmentation.Temperature > 0, "augmentation.temperature", $"must be positive (got {augmentation.Temperature}).");
        Require(augmentation.TopK >= 0, "augmentation.top_k", $"must not be negative (got {augmentation.TopK}).");
        Require(augmentation.TopP is > 0 and <= 1, "augmentation.top_p", $"must be in (0, 1] (got {augmentation.TopP}).");
        Require(augmentation.MaxNewTokens > 0, "augmentation.max_new_tokens", $"must be positive (got {augmentation.MaxNewTokens}).");
        Require(augmentation.BatchSize > 0, "augmentation.batch_size", $"must be positive (got {augmentation.BatchSize}).");

        Require(RunMethods.All.Contains(config.Method), "method", $"'{config.Method}' is not one of {string.Join(", ", RunMethods.All)}.");
        var fdd = config.Fdd;
        Require(fdd.Rounds >= 1, "fdd.rounds", $"must be at least 1 (got {fdd.Rounds}).");
        Require(fdd.HarderPerEasy >= 0, "fdd.harder_per_easy", $"must not be negative (got {fdd.HarderPerEasy}).");
        Require(fdd.SimilarPerHard >= 0, "fdd.similar_per_hard", $"must not be negative (got {fdd.SimilarPerHard}).");
        Require(fdd.HarderPerEasy + fdd.SimilarPerHard > 0, "fdd.harder_per_easy", "and fdd.similar_per_hard are both 0: the rounds would add nothing.");
        Require(fdd.HarderPerEasy <= 16 && fdd.SimilarPerHard <= 16, "fdd.harder_per_easy", "and fdd.similar_per_hard must be at most 16.");
        Require(fdd.Pool is FddPools.Seed or FddPools.SeedAndLastRound, "fdd.pool", $"'{fdd.Pool}' is not {FddPools.Seed} or {FddPools.SeedAndLastRound}.");
        Require(fdd.PoolSample is null or > 0, "fdd.pool_sample", $"must be positive or null for the whole pool (got {fdd.PoolSample}).");
        Require(fdd.ClassifySamples == 0 || fdd.ClassifySamples is >= 2 and <= AnswerSampling.MaxSamples, "fdd.classify_samples",
            $"must be 0 (one greedy answer) or 2..{AnswerSampling.MaxSamples} sampled answers (got {fdd.ClassifySamples}).");
        Require(double.IsFinite(fdd.ClassifyTemperature) && fdd.ClassifyTemperature > 0, "fdd.classify_temperature", $"must be positive (got {fdd.ClassifyTemperature}).");
        Require(fdd.EasyThreshold is > 0 and <= 1, "fdd.easy_threshold", $"must be in (0, 1] (got {fdd.EasyThreshold}).");
        Require(fdd.Retrain is FddRetraining.FromScratch or FddRetraining.Continue, "fdd.retrain", $"'{fdd.Retrain}' is not {FddRetraining.FromScratch} or {FddRetraining.Continue}.");
        Require(fdd.VerifySamples is >= 0 and <= 16, "fdd.verify_samples", $"must be in 0..16 (got {fdd.VerifySamples}).");
        Require(fdd.Patience is null or > 0, "fdd.patience", $"must be positive or null (got {fdd.Patience}).");
        Require(fdd.TeacherCallBudget is null or > 0, "fdd.teacher_call_budget", $"must be positive or null for no limit (got {fdd.TeacherCallBudget}).");
        if (RunMethods.UsesFdd(config.Method))
        {
            if (config.Method == RunMethods.MentorKdFdd)
                Require(config.Arms.Contains(StudentArms.MentorKd), "arms", $"{RunMethods.MentorKdFdd} retrains the {StudentArms.MentorKd} student: the arms must include it.");
            else
                Require(config.Arms is [StudentArms.FineTuneCot], "arms", $"{RunMethods.Fdd} has no mentor: its one student is [\"{StudentArms.FineTuneCot}\"] (got [{string.Join(", ", config.Arms)}]).");
            Require(config.Teacher.Kind != "replay", "teacher.kind", "FDD needs a teacher that writes new problems (simulated or openai), not replay.");
        }

        Require(config.Arms.Count > 0, "arms", "must name at least one student arm.");
        foreach (var arm in config.Arms)
            Require(StudentArms.All.Contains(arm), "arms", $"unknown arm '{arm}' (known: {string.Join(", ", StudentArms.All)}).");
    }

    private static void ValidateLlmTeacher(TeacherConfig teacher)
    {
        Require(teacher.Name is { Length: > 0 } name && TeacherName().IsMatch(name), "teacher.name",
            $"an openai teacher needs a name of letters, digits, '-', '_' or '.' (got '{teacher.Name}').");
        if (!teacher.DefinesLlmTeacher) return; // a gateway's own teacher, configured there
        var problems = new List<ValidationResult>();
        if (!Validator.TryValidateObject(teacher, new ValidationContext(teacher), problems, validateAllProperties: true))
        {
            var first = problems[0];
            var member = first.MemberNames.FirstOrDefault() ?? "(teacher)";
            throw new ConfigException($"teacher.{JsonNamingPolicy.SnakeCaseLower.ConvertName(member)}", first.ErrorMessage ?? "is not valid.");
        }
        Require(teacher.ApiKeyEnv is null || teacher.ApiKeyFile is null, "teacher.api_key_file", "give the key's environment variable or its file, not both.");
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex TeacherName();

    private static void ValidateModel(RunConfig config, IReadOnlyList<string>? roots, ModelConfig model, string name)
    {
        Require(TorchRuntime.DTypes.Contains(model.Training.MatmulDtype), $"{name}.training.matmul_dtype",
            $"'{model.Training.MatmulDtype}' is not {string.Join(" or ", TorchRuntime.DTypes)}.");
        if (model.Pretrained is { } pretrained)
        {
            foreach (var (field, value) in new[] { ("layers", model.Layers), ("heads", model.Heads), ("embedding", model.Embedding) })
                Require(value is null, $"{name}.{field}", $"is set beside {name}.pretrained: a pretrained model has its own shape.");
            Require(model.Dropout == 0, $"{name}.dropout", "is set beside pretrained: a pretrained model is fine-tuned without dropout.");
            if (config.PretrainedFolder(pretrained, roots) is { } folder)
            {
                try { ModelCheckpoints.SupportedModelTypeOf(folder); }
                catch (CheckpointException e) { throw new ConfigException($"{name}.pretrained", e.Message); }
            }
            else
            {
                // Not a folder here, so an object-store key (checked when the run starts): a path-like value is a folder that is
                // missing, or one this platform does not read.
                bool pathLike = pretrained.StartsWith('/') || pretrained.StartsWith("./") || pretrained.StartsWith("../") || pretrained.Contains('\\');
                Require(!pathLike || RunLimits.IsUnder(config.ResolvePath(pretrained), roots), $"{name}.pretrained", OutsideDataRoots(config.ResolvePath(pretrained)));
                Require(!pathLike, $"{name}.pretrained", $"folder '{config.ResolvePath(pretrained)}' not found.");
            }
        }
        else
        {
            Require(model.LayerCount > 0, $"{name}.layers", $"must be positive (got {model.LayerCount}).");
            Require(model.HeadCount > 0, $"{name}.heads", $"must be positive (got {model.HeadCount}).");
            Require(model.EmbeddingSize > 0 && model.EmbeddingSize % model.HeadCount == 0, $"{name}.embedding",
                $"must be a positive multiple of heads ({model.HeadCount}) (got {model.EmbeddingSize}).");
        }
        Require(model.Dropout is >= 0 and < 1, $"{name}.dropout", $"must be in [0, 1) (got {model.Dropout}).");
        var t = model.Training;
        var prefix = $"{name}.training";
        Require(t.Epochs > 0, $"{prefix}.epochs", $"must be positive (got {t.Epochs}).");
        Require(t.BatchSize > 0, $"{prefix}.batch_size", $"must be positive (got {t.BatchSize}).");
        Require(t.LearningRate > 0, $"{prefix}.learning_rate", $"must be positive (got {t.LearningRate}).");
        Require(t.WeightDecay >= 0, $"{prefix}.weight_decay", $"must not be negative (got {t.WeightDecay}).");
        Require(t.WarmupSteps >= 0, $"{prefix}.warmup_steps", $"must not be negative (got {t.WarmupSteps}).");
        Require(t.Lambda is >= 0 and <= 1, $"{prefix}.lambda", $"must be in [0, 1] (got {t.Lambda}).");
        Require(t.JsdBeta is > 0 and < 1, $"{prefix}.jsd_beta", $"must be in (0, 1) (got {t.JsdBeta}).");
        Require(t.Temperature > 0, $"{prefix}.temperature", $"must be positive (got {t.Temperature}).");
        Require(t.EvalMaxNewTokens > 0, $"{prefix}.eval_max_new_tokens", $"must be positive (got {t.EvalMaxNewTokens}).");
        Require(t.EvalBatchSize > 0, $"{prefix}.eval_batch_size", $"must be positive (got {t.EvalBatchSize}).");
        Require(t.EvalEveryEpochs > 0, $"{prefix}.eval_every_epochs", $"must be positive (got {t.EvalEveryEpochs}).");
        Require(Enum.IsDefined(t.KdMode), $"{prefix}.kd_mode", $"'{t.KdMode}' is not none, kl, mse or ce.");
    }

    /// <summary>The operator's limits, first: a field beyond one is refused before anything is computed from it.</summary>
    private static void ValidateAgainst(RunLimits limits, RunConfig config)
    {
        static void AtMost(long value, long limit, string field, string limitName) =>
            Require(value <= limit, field, $"{value} is above this platform's limit of {limit} (Limits:{limitName}).");

        AtMost(config.Name.Length, limits.MaxNameLength, "name", nameof(RunLimits.MaxNameLength));
        var task = config.Task;
        AtMost((long)task.TrainQuestions + task.DevQuestions + task.TestQuestions, limits.MaxQuestions, "task.train_questions", nameof(RunLimits.MaxQuestions));
        AtMost(config.Teacher.RationalesPerQuestion, limits.MaxRationalesPerQuestion, "teacher.rationales_per_question", nameof(RunLimits.MaxRationalesPerQuestion));
        AtMost(config.Augmentation.SamplesPerQuestion, limits.MaxSamplesPerQuestion, "augmentation.samples_per_question", nameof(RunLimits.MaxSamplesPerQuestion));
        AtMost(config.Augmentation.MaxNewTokens, limits.MaxNewTokens, "augmentation.max_new_tokens", nameof(RunLimits.MaxNewTokens));
        AtMost(config.Fdd.Rounds, limits.MaxFddRounds, "fdd.rounds", nameof(RunLimits.MaxFddRounds));
        // Every rationale a job could train on: the teacher's and the mentor's for each training question, and FDD's additions.
        long examples = (long)task.TrainQuestions * (config.Teacher.RationalesPerQuestion + config.Augmentation.SamplesPerQuestion)
            * (RunMethods.UsesFdd(config.Method) ? 1 + config.Fdd.Rounds * (long)Math.Max(config.Fdd.HarderPerEasy, config.Fdd.SimilarPerHard) : 1);
        foreach (var (model, name) in new (ModelConfig Model, string Name)[] { (config.Mentor, "mentor"), (config.Student, "student") })
        {
            var t = model.Training;
            AtMost(t.Epochs, limits.MaxEpochs, $"{name}.training.epochs", nameof(RunLimits.MaxEpochs));
            AtMost(t.EvalMaxNewTokens, limits.MaxNewTokens, $"{name}.training.eval_max_new_tokens", nameof(RunLimits.MaxNewTokens));
            if (t.BatchSize > 0)
                AtMost((examples + t.BatchSize - 1) / t.BatchSize * t.Epochs, limits.MaxTrainingSteps, $"{name}.training.epochs", nameof(RunLimits.MaxTrainingSteps));
            if (model.Pretrained is null)
            {
                // A GPT-2 block holds about 12·E² weights; the position table C·E.
                double parameters = 12.0 * model.LayerCount * model.EmbeddingSize * model.EmbeddingSize + (double)config.ContextLength * model.EmbeddingSize;
                AtMost((long)Math.Min(parameters, long.MaxValue), limits.MaxModelParameters, $"{name}.layers", nameof(RunLimits.MaxModelParameters));
            }
        }
    }

    /// <summary>A pretrained model's tokenizer is the run's: <c>tokenizer</c> may only say so, and two pretrained folders
    /// must share a vocabulary (models named by object-store key are compared when the run starts).</summary>
    private static void ValidatePretrainedTokenizer(RunConfig config, IReadOnlyList<string>? roots)
    {
        var mentor = config.PretrainedMentor;
        var student = config.Student.Pretrained;
        if (mentor is null && student is null)
        {
            Require(config.Tokenizer != RunTokenizer.Pretrained, "tokenizer", "is pretrained, but neither mentor.pretrained nor student.pretrained is set.");
            return;
        }
        Require(config.TokenizerKind == RunTokenizer.Pretrained, "tokenizer",
            $"is {config.Tokenizer}, but a pretrained model brings its own tokenizer: leave it unset (or set it to {RunTokenizer.Pretrained}).");
        var (mentorFolder, studentFolder) = (mentor is null ? null : config.PretrainedFolder(mentor, roots), student is null ? null : config.PretrainedFolder(student, roots));
        if (mentorFolder is not null || studentFolder is not null) RunTokenizer.FromPretrained(mentorFolder, studentFolder);
        // Models named by key are compared when the run starts; folders (or from-scratch models) now.
        if ((mentor is null || mentorFolder is not null) && (student is null || studentFolder is not null))
            RunTokenizer.RequireOneKind(config, mentorFolder is null ? null : ModelCheckpoints.SupportedModelTypeOf(mentorFolder),
                studentFolder is null ? null : ModelCheckpoints.SupportedModelTypeOf(studentFolder));
    }

    /// <summary>A file the run reads on this host: under the data roots (checked first, so nothing is said of what lies
    /// outside them), and there.</summary>
    private static void RequireFile(RunConfig config, IReadOnlyList<string>? roots, string? path, string field)
    {
        Require(!string.IsNullOrWhiteSpace(path), field, "is required.");
        var full = config.ResolvePath(path!);
        Require(RunLimits.IsUnder(full, roots), field, OutsideDataRoots(full));
        Require(File.Exists(full), field, $"file '{full}' not found.");
    }

    private static string OutsideDataRoots(string path) =>
        $"'{path}' is outside this platform's data roots (Limits:DataRoots): name data under one of them, or by object-store key.";

    private static void Require(bool ok, string field, string problem)
    {
        if (!ok) throw new ConfigException(field, problem);
    }
}
