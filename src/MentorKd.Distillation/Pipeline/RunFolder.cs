namespace MentorKd.Distillation.Pipeline;

/// <summary>Where a run keeps its files. Every stage's output is a file here, which is also how a restarted run knows what is done.</summary>
public sealed class RunFolder(string root)
{
    public string Root { get; } = Path.GetFullPath(root);
    public string Config => Path.Combine(Root, "config.json");
    public string Datasets => Path.Combine(Root, "datasets");
    public string TrainQuestions => Path.Combine(Datasets, "train-questions.jsonl");
    public string DevQuestions => Path.Combine(Datasets, "dev-questions.jsonl");
    public string TestQuestions => Path.Combine(Datasets, "test-questions.jsonl");
    public string TeacherRationales => Path.Combine(Datasets, "teacher-rationales.jsonl");
    public string MentorRationales => Path.Combine(Datasets, "mentor-rationales.jsonl");
    public string Tokenizer => Path.Combine(Root, "tokenizer");
    public string Checkpoints => Path.Combine(Root, "checkpoints");
    public string Stages => Path.Combine(Root, "stages");
    public string Evaluations => Path.Combine(Root, "evaluations");
    public string Metrics => Path.Combine(Root, "metrics.jsonl");
    public string Report => Path.Combine(Root, "report.md");
    public string Results => Path.Combine(Root, "results.json");
    public string LossCurves => Path.Combine(Root, "learning-curves-loss.png");
    public string AccuracyCurves => Path.Combine(Root, "learning-curves-accuracy.png");

    public string JobCheckpoints(string job) => Path.Combine(Checkpoints, job);
    public string StageResult(string stage) => Path.Combine(Stages, stage + ".json");
    public string Evaluation(string job) => Path.Combine(Evaluations, job + ".test.jsonl");
}
