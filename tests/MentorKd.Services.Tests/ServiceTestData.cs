using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;
using MentorKd.Storage;
using static TorchSharp.torch;

namespace MentorKd.Services.Tests;

/// <summary>A tiny (untrained) model checkpoint and a question set, put into a service's object store.</summary>
internal static class ServiceTestData
{
    public const string CheckpointKey = "models/tiny-mentor/";
    public const string DatasetKey = "datasets/coin-flip-test.jsonl";

    public static IReadOnlyList<Question> Questions(int count = 6)
    {
        var task = new CoinFlipTask();
        var random = new Random(4);
        return Enumerable.Range(0, count).Select(i => task.Generate(random, $"q{i}", 2)).ToList();
    }

    /// <summary>Writes the checkpoint folder locally and uploads it; returns the local folder.</summary>
    public static async Task<string> PutCheckpointAsync(IObjectStore store, string folder, int layers = 2, int context = 96)
    {
        var questions = Questions(20);
        var tokenizer = WordTokenizer.FromCorpus(questions.Select(CotFormat.Prompt).Append(" The coin starts heads up. --> yes no"));
        manual_seed(3);
        using var model = new GptLanguageModel(GptConfig.Small(tokenizer.VocabSize, layers, 2, 32, context, eosTokenId: tokenizer.EndOfTextId));
        var local = Path.Combine(folder, "local-checkpoint");
        GptCheckpoint.Save(model, tokenizer, local);
        await store.UploadAsync(local, CheckpointKey);
        return local;
    }

    public static async Task PutDatasetAsync(IObjectStore store, IReadOnlyList<Question> questions)
    {
        var path = Path.GetTempFileName();
        JsonLines.Write(path, questions);
        await using var stream = File.OpenRead(path);
        await store.PutAsync(DatasetKey, stream);
    }
}
