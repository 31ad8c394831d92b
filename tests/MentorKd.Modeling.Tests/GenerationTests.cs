using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Runtime;

namespace MentorKd.Modeling.Tests;

public class GenerationTests
{
    private static readonly IReadOnlyList<int[]> Prompts = [[3, 4, 5, 6, 7, 8], [9], [10, 11, 12]];

    private static TokenGenerator Generator(GptLanguageModel model) => new(model, endOfTextId: 0, padId: 1);

    [Fact]
    public void Greedy_output_is_identical_with_and_without_the_cache()
    {
        using var model = TinyModels.Create(40, seed: 11);
        var options = GenerationOptions.Greedy(20);
        var cached = Generator(model).Generate(Prompts, options);
        var uncached = Generator(model).Generate(Prompts, options with { UseCache = false });
        for (int p = 0; p < Prompts.Count; p++) Assert.Equal(uncached[p][0], cached[p][0]);
        Assert.All(cached, samples => Assert.NotEmpty(samples[0]));
    }

    [Fact]
    public void A_batch_of_different_lengths_decodes_like_each_prompt_alone()
    {
        using var model = TinyModels.Create(40, seed: 12);
        var batch = Generator(model).Generate(Prompts, GenerationOptions.Greedy(12));
        for (int p = 0; p < Prompts.Count; p++)
            Assert.Equal(Generator(model).Generate([Prompts[p]], GenerationOptions.Greedy(12))[0][0], batch[p][0]);
    }

    [Fact]
    public void Seeded_sampling_repeats_and_another_seed_differs()
    {
        using var model = TinyModels.Create(40, seed: 13);
        var options = new GenerationOptions { MaxNewTokens = 24, Temperature = 1.5, TopK = 30, TopP = 0.95, SamplesPerPrompt = 3, Seed = 42 };
        var first = Generator(model).Generate(Prompts, options);
        var again = Generator(model).Generate(Prompts, options);
        var other = Generator(model).Generate(Prompts, options with { Seed = 43 });
        Assert.Equal(Flatten(first), Flatten(again));
        Assert.NotEqual(Flatten(first), Flatten(other));
        Assert.All(first, samples => Assert.Equal(3, samples.Count));
        Assert.True(first[0].Distinct(new SequenceComparer()).Count() > 1, "three samples at temperature 1.5 should not all agree");
    }

    [Fact]
    public void Top_k_of_one_is_greedy()
    {
        using var model = TinyModels.Create(40, seed: 14);
        var greedy = Generator(model).Generate(Prompts, GenerationOptions.Greedy(10));
        var topOne = Generator(model).Generate(Prompts, new GenerationOptions { MaxNewTokens = 10, Temperature = 1.0, TopK = 1, Seed = 1 });
        Assert.Equal(Flatten(greedy), Flatten(topOne));
    }

    [Fact]
    public void Generation_stops_at_end_of_text_or_the_budget()
    {
        using var model = TinyModels.Create(40, seed: 15);
        // A model that always prefers end-of-text: push its embedding row up so every logit favours id 0.
        using (TorchSharp.torch.no_grad())
        {
            var wte = model.state_dict()["transformer.wte.weight"];
            var ln = model.state_dict()["transformer.ln_f.bias"];
            ln.copy_(wte[0].Times(50));
        }
        var stopped = Generator(model).Generate(Prompts, GenerationOptions.Greedy(30));
        Assert.All(stopped, s => Assert.Empty(s[0]));

        using var other = TinyModels.Create(40, seed: 16);
        var budget = Generator(other).Generate([[0, 5]], new GenerationOptions { MaxNewTokens = 7, Temperature = 1, Seed = 3 })[0][0];
        Assert.True(budget.Length <= 7);
    }

    [Fact]
    public void Invalid_options_name_the_field()
    {
        using var model = TinyModels.Create(40);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Generator(model).Generate(Prompts, new GenerationOptions { Temperature = -1 }));
        Assert.Equal("Temperature", error.ParamName);
        Assert.Equal("TopP", Assert.Throws<ArgumentOutOfRangeException>(() => Generator(model).Generate(Prompts, new GenerationOptions { TopP = 0 })).ParamName);
        Assert.Throws<ArgumentException>(() => Generator(model).Generate([new int[64]], GenerationOptions.Greedy(1)));
    }

    private static List<int> Flatten(IReadOnlyList<int[]>[] output) => output.SelectMany(s => s).SelectMany(t => t.Append(-1)).ToList();

    private sealed class SequenceComparer : IEqualityComparer<int[]>
    {
        public bool Equals(int[]? x, int[]? y) => x!.SequenceEqual(y!);
        public int GetHashCode(int[] obj) => obj.Length;
    }
}
