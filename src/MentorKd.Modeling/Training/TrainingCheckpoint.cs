using System.Text.Json;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;

namespace MentorKd.Modeling.Training;

/// <summary>
/// A model folder that can also resume training: the Hugging Face files plus the optimiser state and the step
/// reached, written together (the folder is swapped in whole, so model and optimiser never disagree).
/// </summary>
public static class TrainingCheckpoint
{
    public const string OptimizerFile = "optimizer.safetensors";
    public const string StateFile = "trainer_state.json";

    public sealed record State(int Step, int TotalSteps, float LastLoss, float? ValidationLoss, int Seed);

    public static bool ExistsIn(string directory)
    {
        ModelFolder.RecoverInterruptedSwap(directory);
        return File.Exists(Path.Combine(directory, StateFile)) && File.Exists(Path.Combine(directory, OptimizerFile));
    }

    /// <param name="writeExtras">Further files that must change together with the weights (e.g. a job's history).</param>
    public static void Save(string directory, LanguageModel model, ITokenizer tokenizer, LanguageModelTrainer trainer, State state,
        Action<string>? writeExtras = null) =>
        ModelCheckpoints.Save(model, tokenizer, directory, writeExtras: staging =>
        {
            trainer.SaveOptimizer(Path.Combine(staging, OptimizerFile));
            File.WriteAllText(Path.Combine(staging, StateFile), JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));
            writeExtras?.Invoke(staging);
        });

    public static State ReadState(string directory)
    {
        var path = Path.Combine(directory, StateFile);
        return JsonSerializer.Deserialize<State>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty.");
    }

    public static void RestoreOptimizer(string directory, LanguageModelTrainer trainer) =>
        trainer.RestoreOptimizer(Path.Combine(directory, OptimizerFile), ReadState(directory).Step);
}
