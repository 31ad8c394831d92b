namespace MentorKd.Augmentation.Runs;

/// <summary>Where one run keeps its objects: runs/{runId}/datasets/…, …/tokenizer/, …/checkpoints/{job}/…, …/reports/…,
/// plus …/stages/{stage}.json, written last by each stage, which is how a restarted run knows what is done.</summary>
public sealed record RunKeys(Guid RunId)
{
    public string Id => RunId.ToString("D");
    public string Root => $"runs/{Id}/";
    public string Config => Root + "config.json";
    /// <summary>The run as it last ended (completed, failed or cancelled): what GetRun shows once no state machine holds it.</summary>
    public string Ended => Root + "run.json";
    /// <summary>The client that started the run (its name), written once when it is first started.</summary>
    public string SubmittedBy => Root + "submitted-by";
    public string TrainQuestions => Root + "datasets/train-questions.jsonl";
    public string DevQuestions => Root + "datasets/dev-questions.jsonl";
    public string TestQuestions => Root + "datasets/test-questions.jsonl";
    /// <summary>The training questions the teacher is asked about (all of them, or the config's annotated_questions).</summary>
    public string TeacherQuestions => Root + "datasets/teacher-questions.jsonl";
    public string TeacherRationales => Root + "datasets/teacher-rationales.jsonl";
    public string MentorRationales => Root + "datasets/mentor-rationales.jsonl";
    public string Tokenizer => Root + "tokenizer/";
    /// <summary>A pretrained mentor's or student's folder, imported from the host that started the run.</summary>
    public string Pretrained(string role) => Root + $"pretrained/{role}/";
    public string Reports => Root + "reports/";
    public string Report => Reports + "report.md";
    public string Results => Reports + "results.json";
    public string Lineage => Reports + "lineage.json";

    public string Checkpoints(string job) => Root + $"checkpoints/{job}/";
    /// <summary>A training job's sparse soft-label store (the mentor's top k for each of its sequences).</summary>
    public string SoftLabelStore(string job) => Root + $"soft-labels/{job}.safetensors";
    /// <summary>Questions added to the run; an upload here is announced by the bucket's notification.</summary>
    public string Incoming => Root + "incoming/";
    /// <summary>One accepted batch of new questions, by content hash, waiting for (or done as) a retraining round.</summary>
    public string RoundRequest(string sha256) => Root + $"rounds/requests/{sha256}.json";
    public string RoundRequests => Root + "rounds/requests/";
    public string Round(int round) => Root + $"rounds/{round}/";
    /// <summary>An FDD round's pool, its classification and the problems written from it.</summary>
    public string Fdd(int round) => Root + $"fdd/{round}/";
    public string Rounds => Reports + "rounds.json";
    public string RoundsReport => Reports + "rounds.md";
    /// <summary>FDD's rounds beside its baseline's (JSON), and their charts.</summary>
    public string FddRounds => Reports + "fdd-rounds.json";
    public string FddAccuracyPlot => Reports + "fdd-accuracy.png";
    public string FddDifficultyPlot => Reports + "fdd-training-set-by-difficulty.png";
    public string Evaluation(string job) => Reports + $"evaluations/{job}.test.jsonl";
    public string Stage(string stage) => Root + $"stages/{stage}.json";

    /// <summary>Runs with work to do (a run started, or questions added) until it ends: a restarted service carries them on.</summary>
    public const string UnfinishedRuns = "unfinished-runs/";
    public string UnfinishedMarker => UnfinishedRuns + Id;

    /// <summary>Registry ids of the run's datasets, so they can also be read through the Datasets API.</summary>
    public string DatasetId(string name) => $"{Id}.{name}";

    /// <summary>Trainer job ids: stable per run and job, so a restarted run finds (or resumes) the same job.</summary>
    public string TrainingJobId(string job) => $"{Id}-{job}";
    public string AnnotationId(string name) => $"{Id}-annotation-{name}";
    public string AugmentationId(string name) => $"{Id}-augmentation-{name}";
    public string EvaluationId(string job) => $"{Id}-evaluation-{job}";
    public string SynthesisId(string name) => $"{Id}-synthesis-{name}";

    /// <summary>The job or work name in one of this run's work ids ("{run}-{prefix}{name}").</summary>
    public string JobName(string workId, string prefix = "") => workId[(Id.Length + 1 + prefix.Length)..];

    /// <summary>The run a work id belongs to (its leading run id), or <see cref="Guid.Empty"/> for work that is not a run's.</summary>
    public static Guid RunOf(string workId) =>
        workId.Length > 37 && workId[36] == '-' && Guid.TryParseExact(workId.AsSpan(0, 36), "D", out var run) ? run : Guid.Empty;
}
