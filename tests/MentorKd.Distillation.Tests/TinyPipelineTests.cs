using MentorKd.Distillation.Data;
using MentorKd.Distillation.Pipeline;

namespace MentorKd.Distillation.Tests;

public class TinyPipelineTests
{
    // Coin flips with three people: a yes/no answer, so chance is 50%.
    internal const string TinyConfig = """
        {
          "name": "tiny", "seed": 7, "threads": 2,
          "task": { "name": "coin_flip", "source": "synthetic", "difficulty": 3,
                    "train_questions": 400, "dev_questions": 40, "test_questions": 60 },
          "teacher": { "kind": "simulated", "annotated_questions": 200, "rationales_per_question": 1, "error_rate": 0.15 },
          "tokenizer": "word", "context_length": 96,
          "mentor": { "layers": 2, "heads": 4, "embedding": 128,
                      "training": { "epochs": 12, "batch_size": 16, "learning_rate": 0.003, "warmup_steps": 10, "eval_max_new_tokens": 48 } },
          "augmentation": { "samples_per_question": 1, "temperature": 0.7, "top_k": 50, "max_new_tokens": 48 },
          "student": { "layers": 2, "heads": 2, "embedding": 48,
                       "training": { "epochs": 8, "batch_size": 16, "learning_rate": 0.003, "warmup_steps": 10, "eval_max_new_tokens": 48,
                                     "kd_mode": "kl", "kd_mask": "clean", "lambda": 0.3, "temperature": 2.0 } },
          "arms": ["fine_tune_cot", "mentor_kd"]
        }
        """;

    [Fact]
    public async Task A_tiny_mentor_kd_run_trains_a_student_above_chance_and_writes_its_run_folder()
    {
        var folder = new RunFolder(Path.Combine(Path.GetTempPath(), "mentorkd-tests", Guid.NewGuid().ToString("N")));
        var results = await new MentorKdPipeline(RunConfig.Parse(TinyConfig, "."), folder, SilentObserver.Instance).RunAsync();

        Assert.InRange(results.Annotation.KeptRate, 0.7, 0.95);               // the simulated teacher errs ~15%
        Assert.True(results.MentorTestAccuracy > 0.75, $"mentor test accuracy {results.MentorTestAccuracy}");
        Assert.True(results.Augmentation.Correct > 0, "the mentor should write some correct rationales");

        var mentorKd = results.Arms.Single(a => a.Arm == StudentArms.MentorKd);
        var history = mentorKd.Outcome.History;
        Assert.True(history[^1].TrainLoss < history[0].TrainLoss * 0.7, $"student loss should fall: {history[0].TrainLoss} -> {history[^1].TrainLoss}");
        Assert.True(mentorKd.TestAccuracy > 0.75, $"student test accuracy {mentorKd.TestAccuracy} should be well above chance (0.5)");
        Assert.All(history, h => Assert.NotNull(h.SoftTerm));

        foreach (var path in new[] { folder.Config, folder.TrainQuestions, folder.TeacherRationales, folder.MentorRationales, folder.Metrics, folder.Report,
                     folder.Results, folder.LossCurves, folder.AccuracyCurves, folder.Evaluation(StudentArms.MentorKd) })
            Assert.True(File.Exists(path), $"{path} missing");
        Assert.Equal(60, JsonLines.Read<Evaluation.EvaluatedExample>(folder.Evaluation(StudentArms.MentorKd)).Count);
        Assert.Contains("Mentor-KD", File.ReadAllText(folder.Report));

        // A second run over the same folder finds every stage done and reproduces the results without training.
        var again = await new MentorKdPipeline(RunConfig.Parse(TinyConfig, "."), folder, SilentObserver.Instance).RunAsync();
        Assert.Equal(results.Arms.Select(a => a.TestAccuracy), again.Arms.Select(a => a.TestAccuracy));
        Assert.True(again.Seconds < results.Seconds / 3, $"a finished run should be skipped, took {again.Seconds:F0}s vs {results.Seconds:F0}s");
    }
}
