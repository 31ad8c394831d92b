using MentorKd.Modeling.Model;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Tests;

/// <summary>
/// Initial weights from a seeded generator depend on the seed alone. libtorch's default generator is shared by the
/// whole process, and a trainer replica builds models while other jobs train, sample or load on other threads.
/// </summary>
public class InitializationTests
{
    private static GptConfig Config => GptConfig.Small(40, layers: 2, heads: 2, embedding: 32, contextLength: 32);

    [Fact]
    public async Task A_model_built_from_a_seeded_generator_is_the_same_whatever_the_process_wide_generator_does_meanwhile()
    {
        GptLanguageModel Build(ulong seed)
        {
            using var generator = new Generator(seed);
            return new GptLanguageModel(Config, generator);
        }

        manual_seed(1);
        using var first = Build(7);
        using var stop = new CancellationTokenSource();
        // Another thread keeps seeding and drawing from the shared generator while the second model is built.
        var neighbour = Task.Run(() =>
        {
            for (long i = 0; !stop.IsCancellationRequested; i++)
            {
                manual_seed(i);
                using var _ = randn(64, 64);
            }
        });
        GptLanguageModel second;
        try
        {
            second = await Task.Run(() => Build(7));
        }
        finally
        {
            stop.Cancel();
            await neighbour;
        }
        using var _second = second;
        using var other = Build(8);

        var expected = first.state_dict();
        var again = second.state_dict();
        var otherSeed = other.state_dict();
        foreach (var (name, tensor) in expected)
        {
            Assert.True(tensor.allclose(again[name], rtol: 0, atol: 0), $"{name} differs between two builds from seed 7");
            if (name.EndsWith(".weight") && !name.Contains("ln_")) Assert.False(tensor.allclose(otherSeed[name], rtol: 0, atol: 0), $"{name} is the same for seeds 7 and 8");
        }
    }
}
