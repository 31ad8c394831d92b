using MentorKd.Modeling.Model;
using MentorKd.Modeling.Runtime;
using MentorKd.Modeling.Tokenization;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Tests;

/// <summary>Small, seeded models and data shared by the tests.</summary>
internal static class TinyModels
{
    static TinyModels() => TorchRuntime.SetThreads(2);

    public const string Rhyme = "the cat sat on the mat. the dog dug in the fog. ";

    public static CharTokenizer RhymeTokenizer() => CharTokenizer.FromCorpus([Rhyme]);

    /// <summary>About 100k parameters: 2 layers, 4 heads, 48 wide.</summary>
    public static GptLanguageModel Create(int vocabSize, long seed = 1, int layers = 2, int heads = 4, int embedding = 48, int context = 64)
    {
        manual_seed(seed);
        return new GptLanguageModel(GptConfig.Small(vocabSize, layers, heads, embedding, context));
    }

    public static string TempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "mentorkd-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
