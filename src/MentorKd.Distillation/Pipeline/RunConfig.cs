using System.Text.Json;
using System.Text.Json.Serialization;
using MentorKd.Distillation.Teachers;
using MentorKd.Distillation.Training;

namespace MentorKd.Distillation.Pipeline;

/// <summary>
/// Everything a Mentor-KD run needs, as read from a JSON config file (snake_case keys). Relative file paths
/// are resolved against the config file's folder. <see cref="RunConfigValidator"/> checks it before any work.
/// </summary>
public sealed record RunConfig
{
    public string Name { get; init; } = "mentor-kd";
    public int Seed { get; init; } = 42;
    public int Threads { get; init; }
    public string Device { get; init; } = "cpu";
    public TaskConfig Task { get; init; } = new();
    public TeacherConfig Teacher { get; init; } = new();
    /// <summary>"word" (numbers as digits; short sequences) or "char", built from the run's data; or "pretrained": the
    /// pretrained mentor's (else student's) own. Unset: pretrained when either model is, word otherwise.</summary>
    public string? Tokenizer { get; init; }

    [JsonIgnore] public string TokenizerKind => Tokenizer ?? (PretrainedMentor is not null || Student.Pretrained is not null ? RunTokenizer.Pretrained : RunTokenizer.Word);

    /// <summary>The mentor's pretrained folder or key, when the run trains a mentor and it is pretrained.</summary>
    [JsonIgnore] public string? PretrainedMentor => RunMethods.TrainsMentor(Method) ? Mentor.Pretrained : null;
    public int ContextLength { get; init; } = 256;
    /// <summary>Precision of the models that only infer: the mentor serving samples and soft labels (the mentor-server's,
    /// or a trainer's in-process one) and checkpoints under evaluation. "auto" (the default: "bfloat16" on a host whose CPU
    /// computes bf16 natively, "float32" elsewhere, decided where the model is loaded), "bfloat16" (half the memory,
    /// products through oneDNN's bf16 kernels, attention in fp32) or "float32". Models in training keep fp32 weights (their
    /// products' type is each model's <c>training.matmul_dtype</c>).</summary>
    public string FrozenDtype { get; init; } = "auto";
    public ModelConfig Mentor { get; init; } = new();
    public AugmentationConfig Augmentation { get; init; } = new();
    public StudentConfig Student { get; init; } = new();
    public IReadOnlyList<string> Arms { get; init; } = [StudentArms.FineTuneCot, StudentArms.MentorKd, StudentArms.NoSoftLabels, StudentArms.NoAugmentation];
    /// <summary>"mentor_kd"; "mentor_kd+fdd": Mentor-KD, then feedback-driven rounds on its student (<see cref="Fdd"/>); or
    /// "fdd": feedback-driven rounds alone, on a student fine-tuned on the teacher's rationales (no mentor).</summary>
    public string Method { get; init; } = RunMethods.MentorKd;
    public FddConfig Fdd { get; init; } = new();

    /// <summary>Folder relative paths are resolved against (the config file's).</summary>
    [JsonIgnore] public string BaseDirectory { get; init; } = Environment.CurrentDirectory;

    public string ResolvePath(string path) => Path.GetFullPath(Path.Combine(BaseDirectory, path));

    /// <summary>This config with every file path made absolute, so it means the same wherever it is sent. A pretrained
    /// model becomes a folder only under <paramref name="dataRoots"/> (null: anywhere); elsewhere its name is a key.</summary>
    public RunConfig WithAbsolutePaths(IReadOnlyList<string>? dataRoots = null) => this with
    {
        Task = Task.Files is { } files
            ? Task with
            {
                Files = files with
                {
                    TrainQuestions = files.TrainQuestions is { } train ? ResolvePath(train) : null,
                    Test = files.Test is { } test ? ResolvePath(test) : null,
                },
            }
            : Task,
        Teacher = Teacher.File is { } file ? Teacher with { File = ResolvePath(file) } : Teacher,
        Mentor = Mentor with { Pretrained = PretrainedPath(Mentor.Pretrained, dataRoots) },
        Student = Student with { Pretrained = PretrainedPath(Student.Pretrained, dataRoots) },
    };

    /// <summary>The folder a pretrained model names on this host (under <paramref name="dataRoots"/>, which are checked
    /// before the filesystem is), or null when its name is an object-store key.</summary>
    public string? PretrainedFolder(string pretrained, IReadOnlyList<string>? dataRoots) =>
        RunLimits.IsUnder(ResolvePath(pretrained), dataRoots) && Directory.Exists(ResolvePath(pretrained)) ? ResolvePath(pretrained) : null;

    /// <summary>A pretrained model named by a folder here becomes its absolute path; anything else is an object-store key
    /// (<see cref="ModelConfig.PretrainedIsFolder"/>).</summary>
    private string? PretrainedPath(string? pretrained, IReadOnlyList<string>? dataRoots) =>
        pretrained is null || Path.IsPathRooted(pretrained) ? pretrained : PretrainedFolder(pretrained, dataRoots) ?? pretrained;

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static RunConfig Parse(string json, string baseDirectory)
    {
        try
        {
            var config = JsonSerializer.Deserialize<RunConfig>(json, Json) ?? throw new ConfigException("(root)", "the config is empty.");
            return config with { BaseDirectory = baseDirectory };
        }
        catch (JsonException e)
        {
            throw new ConfigException(e.Path is { Length: > 0 } path ? path.TrimStart('$', '.') : "(root)", e.Message);
        }
    }

    public static RunConfig Load(string path)
    {
        if (!File.Exists(path)) throw new ConfigException("--config", $"file '{path}' not found.");
        return Parse(File.ReadAllText(path), Path.GetDirectoryName(Path.GetFullPath(path))!);
    }
}

public static class RunMethods
{
    public const string MentorKd = "mentor_kd", MentorKdFdd = "mentor_kd+fdd", Fdd = "fdd";

    public static readonly IReadOnlyList<string> All = [MentorKd, MentorKdFdd, Fdd];

    public static bool UsesFdd(string method) => method is MentorKdFdd or Fdd;

    /// <summary>Whether the run trains a mentor (FDD alone has none: its student learns from the teacher only).</summary>
    public static bool TrainsMentor(string method) => method != Fdd;
}

/// <summary>
/// Feedback-driven distillation's rounds: each classifies the pool by the current student's answers (easy: right;
/// hard: wrong), has the teacher write harder variations of easy problems and similar problems for hard ones (verified,
/// deduplicated), and retrains the student on everything so far.
/// </summary>
public sealed record FddConfig
{
    public int Rounds { get; init; } = 3;
    /// <summary>Harder variations written per easy problem.</summary>
    public int HarderPerEasy { get; init; } = 1;
    /// <summary>Similar problems written per hard problem.</summary>
    public int SimilarPerHard { get; init; } = 1;
    /// <summary>What is classified: "seed" (the run's training questions) or "seed_and_last_round" (and the last round's new problems).</summary>
    public string Pool { get; init; } = FddPools.Seed;
    /// <summary>Problems drawn (seeded) from the pool each round; null: all of it.</summary>
    public int? PoolSample { get; init; }
    /// <summary>How the student answers the pool: 0, one greedy answer (easy: right); m ≥ 2, m answers sampled at
    /// <see cref="ClassifyTemperature"/> (easy: at least <see cref="EasyThreshold"/> of them right).</summary>
    public int ClassifySamples { get; init; }
    public double ClassifyTemperature { get; init; } = 0.7;
    public double EasyThreshold { get; init; } = 0.5;
    /// <summary>Each round's students: "from_scratch" (random weights, as round 0) or "continue" (from the same arm's
    /// student of the round before).</summary>
    public string Retrain { get; init; } = FddRetraining.FromScratch;
    /// <summary>Agreeing solutions an LLM teacher's new problem needs (0: the teacher's own setting).</summary>
    public int VerifySamples { get; init; }
    /// <summary>Stop once the student's dev accuracy has not improved for this many rounds (null: run every round).</summary>
    public int? Patience { get; init; }
    /// <summary>Teacher requests the rounds may spend on writing and annotating problems (null: no limit). A round asks for
    /// no more problems than the rest pays for, and none starts once it is spent.</summary>
    public long? TeacherCallBudget { get; init; }
    /// <summary>The honest baseline beside FDD: each round, as many new problems at the same spend written without
    /// feedback (similar problems for seed questions drawn at random), and a student trained on those instead.</summary>
    public bool Baseline { get; init; } = true;
}

public static class FddPools
{
    public const string Seed = "seed", SeedAndLastRound = "seed_and_last_round";
}

public static class FddRetraining
{
    public const string FromScratch = "from_scratch", Continue = "continue";
}

public sealed record TaskConfig
{
    public string Name { get; init; } = "tracking_shuffled_objects";
    /// <summary>"synthetic" (generated here) or "files" (Mentor-KD JSON files).</summary>
    public string Source { get; init; } = "synthetic";
    public int TrainQuestions { get; init; } = 2000;
    public int DevQuestions { get; init; } = 100;
    public int TestQuestions { get; init; } = 200;
    /// <summary>The generator's knob; null = the task's default.</summary>
    public int? Difficulty { get; init; }
    /// <summary>[min, max]: each question's difficulty drawn uniformly from this range instead (a mixed set, whose harder
    /// questions a small student gets wrong more often: what FDD's feedback finds).</summary>
    public IReadOnlyList<int>? DifficultyRange { get; init; }
    public TaskFiles? Files { get; init; }
}

public sealed record TaskFiles
{
    /// <summary>Mentor-KD train-questions JSON (all training questions with gold answers).</summary>
    public string? TrainQuestions { get; init; }
    public string? Test { get; init; }
    /// <summary>Share of the training questions held out as the dev split for model selection.</summary>
    public double DevShare { get; init; } = 0.1;
}

/// <summary>Who writes the rationales. An <c>openai</c> teacher is an LLM behind an OpenAI-compatible API: <see cref="Name"/>
/// names one of the teacher-gateway's teachers; with <c>base_url</c> and <c>model</c> (and the other
/// <see cref="OpenAiTeacherOptions"/> settings) given here as well, an embedded run defines that teacher itself.</summary>
public sealed record TeacherConfig : OpenAiTeacherOptions
{
    /// <summary>"simulated" (synthetic tasks only), "replay" (recorded rationales from <see cref="File"/>) or "openai".</summary>
    public string Kind { get; init; } = "simulated";
    /// <summary>The LLM teacher's name (openai).</summary>
    public string? Name { get; init; }
    /// <summary>How many training questions the teacher annotates (null = all): scarce teacher data leaves the mentor something to add.</summary>
    public int? AnnotatedQuestions { get; init; } = 300;
    public int RationalesPerQuestion { get; init; } = 1;
    public double ErrorRate { get; init; } = 0.15;
    public string? File { get; init; }

    /// <summary>Whether this config defines its LLM teacher (rather than naming one a gateway already has).</summary>
    [JsonIgnore] public bool DefinesLlmTeacher => Kind == "openai" && BaseUrl.Length > 0;

    /// <summary>The gateway teacher an annotation asks for: the LLM teacher's name, or empty for the gateway's default.</summary>
    [JsonIgnore] public string GatewayTeacher => Kind == "openai" ? Name ?? "" : "";
}

public record ModelConfig
{
    /// <summary>A Hugging Face model folder (on the host that starts the run; relative to the config file) or an
    /// object-store key holding one: the model starts from its weights and brings its tokenizer, and its shape is its
    /// own (layers, heads and embedding stay unset).</summary>
    public string? Pretrained { get; init; }
    /// <summary>A from-scratch model's shape (GPT-2 style); unset: 4 layers, 4 heads, 256 wide.</summary>
    public int? Layers { get; init; }
    public int? Heads { get; init; }
    public int? Embedding { get; init; }
    public double Dropout { get; init; }
    public ReasoningTrainingOptions Training { get; init; } = new();

    [JsonIgnore] public int LayerCount => Layers ?? 4;
    [JsonIgnore] public int HeadCount => Heads ?? 4;
    [JsonIgnore] public int EmbeddingSize => Embedding ?? 256;

    /// <summary>Whether <see cref="Pretrained"/> names a folder (an absolute path, after <see cref="RunConfig.WithAbsolutePaths"/>)
    /// rather than an object-store key.</summary>
    [JsonIgnore] public bool PretrainedIsFolder => Pretrained is not null && Path.IsPathRooted(Pretrained);

    /// <summary>"pretrained &lt;name&gt;" or "L×E", for progress messages and reports.</summary>
    public string Describe() => Pretrained is { } p ? $"pretrained {Path.GetFileName(p.TrimEnd('/', Path.DirectorySeparatorChar))}" : $"{LayerCount} layers × {EmbeddingSize}";
}

public sealed record StudentConfig : ModelConfig
{
    /// <summary>A student left without training settings distils with the KL term (Mentor-KD's loss).</summary>
    public StudentConfig() => Training = new ReasoningTrainingOptions { KdMode = KnowledgeDistillationMode.Kl };

    /// <summary>Where a run through the services takes the mentor's soft labels from: "in_process" (the trainer loads
    /// the mentor itself; fastest), "mentor_server" (top-k log-probs over gRPC, every step) or "stored" (the mentor-server
    /// writes each student job's top-k into a sparse soft-label store in the object store once; the student reads it).
    /// The one-process pipeline always computes them in process.</summary>
    public string SoftLabels { get; init; } = SoftLabelSources.InProcess;

    /// <summary>k for mentor_server and stored soft labels; null: the platform's setting (32 over gRPC, 16 in a store).</summary>
    public int? SoftLabelTopK { get; init; }
}

public static class SoftLabelSources
{
    public const string InProcess = "in_process", MentorServer = "mentor_server", Stored = "stored";
}

public sealed record AugmentationConfig
{
    public int SamplesPerQuestion { get; init; } = 2;
    public double Temperature { get; init; } = 0.7;
    public int TopK { get; init; } = 50;
    public double TopP { get; init; } = 1.0;
    public int MaxNewTokens { get; init; } = 160;
    public int BatchSize { get; init; } = 64;
}
