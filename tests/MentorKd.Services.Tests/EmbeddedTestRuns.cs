using MentorKd.Distillation.Pipeline;
using MentorKd.Embedded;

namespace MentorKd.Services.Tests;

/// <summary>Tiny run configs and an embedded platform (all five services in one process, real gRPC over loopback).</summary>
internal static class EmbeddedTestRuns
{
    // Coin flips with three people: a yes/no answer, so chance is 50%.
    public const string TinyConfig = """
        {
          "name": "tiny-services", "seed": 7, "threads": 2,
          "task": { "name": "coin_flip", "source": "synthetic", "difficulty": 3,
                    "train_questions": 400, "dev_questions": 40, "test_questions": 60 },
          "teacher": { "kind": "simulated", "annotated_questions": 200, "rationales_per_question": 1, "error_rate": 0.15 },
          "tokenizer": "word", "context_length": 112,
          "mentor": { "layers": 2, "heads": 4, "embedding": 128,
                      "training": { "epochs": 12, "batch_size": 16, "learning_rate": 0.003, "warmup_steps": 10, "eval_max_new_tokens": 48 } },
          "augmentation": { "samples_per_question": 1, "temperature": 0.7, "top_k": 50, "max_new_tokens": 48 },
          "student": { "soft_labels": "mentor_server", "layers": 2, "heads": 2, "embedding": 48,
                       "training": { "epochs": 8, "batch_size": 16, "learning_rate": 0.003, "warmup_steps": 10, "eval_max_new_tokens": 48,
                                     "kd_mode": "kl", "kd_mask": "clean", "lambda": 0.3, "temperature": 2.0 } },
          "arms": ["fine_tune_cot", "mentor_kd"]
        }
        """;

    public static RunConfig Tiny() => RunConfig.Parse(TinyConfig, ".");

    public static string NewDataRoot() => Path.Combine(Path.GetTempPath(), "mentorkd-embedded-tests", Guid.NewGuid().ToString("N"));

    public static Task<EmbeddedPlatform> StartAsync(string dataRoot, RunConfig? config = null) =>
        EmbeddedPlatform.StartAsync(EmbeddedRunSetup.For(config ?? Tiny(), dataRoot));
}
