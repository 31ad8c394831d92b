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

    /// <summary>Norm scales of one are invisible to a test; random ones (uniform in [0.5, 1.5]) are not.</summary>
    public static void RandomizeNorms(TorchSharp.torch.nn.Module model, string nameSuffix)
    {
        using var noGrad = no_grad();
        using var generator = new Generator(11);
        foreach (var (name, parameter) in model.named_parameters())
            if (name.EndsWith(nameSuffix)) parameter.uniform_(0.5, 1.5, generator);
    }

    /// <summary>A 2-D tensor's values as fp32 numbers, for arithmetic written out in a test.</summary>
    public static float[,] ToMatrix(Tensor t)
    {
        using var contiguous = t.to(ScalarType.Float32).contiguous();
        var data = contiguous.data<float>().ToArray();
        var (rows, columns) = ((int)t.shape[0], (int)t.shape[1]);
        var matrix = new float[rows, columns];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                matrix[r, c] = data[r * columns + c];
        return matrix;
    }

    public static string TempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "mentorkd-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
