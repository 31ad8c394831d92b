using System.Text.Json.Nodes;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Tests;

/// <summary>The T5 family (v1.0: ReLU, tied head; v1.1/FlanT5: gated GELU, own head) on tiny random checkpoints in
/// Hugging Face's layout: relative-position buckets against a table worked out by hand, logits against a computation
/// written here in plain arithmetic, folders saved and read back exactly, cached decoding against uncached, and
/// malformed folders refused naming the file and tensor.</summary>
public class T5ModelTests
{
    static T5ModelTests() => Runtime.TorchRuntime.SetThreads(2);

    internal static T5Config Tiny(bool v11) => T5Config.Small(vocabSize: 40, layers: 2, heads: 2, modelSize: 16, feedForward: 24, headSize: 6) with
    {
        // v1.0: ReLU feed-forward, head tied to the shared embedding (scaled by d_model^-0.5); v1.1: gated GELU, own head.
        FeedForward = v11 ? "gated-gelu" : "relu", TieWordEmbeddings = !v11, RelativeBuckets = 8, RelativeMaxDistance = 20, DecoderStartTokenId = 0, EosTokenId = 1,
    };

    [Fact]
    public void Relative_position_buckets_are_the_hand_computed_table()
    {
        // Encoder (bidirectional, 8 buckets, max distance 20): 4 per direction, distances 0 and 1 exact, then
        // 2 + ⌊ln(d/2) / ln(10) · 2⌋ capped at 3 (d = 2..6 → 2, d ≥ 7 → 3); keys after the query add 4.
        var encoder = new RelativePositionBuckets(8, 20, bidirectional: true);
        int[] expectedBefore = [0, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3];
        for (int d = 0; d <= 25; d++) Assert.Equal(expectedBefore[d], encoder.Bucket(-d));
        for (int d = 1; d <= 25; d++) Assert.Equal(expectedBefore[d] + 4, encoder.Bucket(d));

        // Decoder (keys at or before the query only, 8 buckets): 0..3 exact, then 4 + ⌊ln(d/4) / ln(5) · 4⌋ capped at 7:
        // d = 4, 5 → 4; 6..8 → 5; 9..13 → 6; ≥ 14 → 7. A key after the query (masked anyway) is bucket 0.
        var decoder = new RelativePositionBuckets(8, 20, bidirectional: false);
        int[] expected = [0, 1, 2, 3, 4, 4, 5, 5, 5, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7];
        for (int d = 0; d <= 25; d++) Assert.Equal(expected[d], decoder.Bucket(-d));
        Assert.Equal(0, decoder.Bucket(5));

        // FlanT5's own setting (32 buckets, 128): distance 0..7 exact, 8 → 8, 127 → 15, anything longer → 15.
        var flan = new RelativePositionBuckets(32, 128, bidirectional: true);
        Assert.Equal((7, 8, 15, 15, 16 + 15), (flan.Bucket(-7), flan.Bucket(-8), flan.Bucket(-127), flan.Bucket(-5000), flan.Bucket(5000)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Logits_match_a_step_by_step_computation_in_plain_arithmetic(bool v11)
    {
        var config = Tiny(v11);
        using var model = new T5LanguageModel(config, new Generator(3));
        TinyModels.RandomizeNorms(model, "layer_norm.weight");
        int[] prompt = [5, 7, 3, 39, 12, 2, 9];
        int[] written = [0, 4, 8, 15, 22];
        float[,] logits;
        using (var input = tensor(prompt.Select(i => (long)i).ToArray(), [1, prompt.Length]))
        using (var decoderIds = tensor(written.Select(i => (long)i).ToArray(), [1, written.Length]))
        using (var output = model.forward(input, null, decoderIds))
            logits = TinyModels.ToMatrix(output[0]);

        var expected = new ReferenceT5(model).Logits(prompt, written);
        for (int t = 0; t < written.Length; t++)
            for (int v = 0; v < config.VocabSize; v++)
                Assert.True(Math.Abs(expected[t, v] - logits[t, v]) < 2e-4, $"position {t}, token {v}: {logits[t, v]} vs {expected[t, v]}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Cached_decoding_and_padded_batches_give_the_same_tokens_as_full_recomputation(bool v11)
    {
        using var model = new T5LanguageModel(Tiny(v11), new Generator(5));
        var generator = new TokenGenerator(model, endOfTextId: 1, padId: 0);
        List<int[]> prompts = [[2, 9, 4, 17, 3], [6, 30], [11, 12, 13]];
        var cached = generator.Generate(prompts, GenerationOptions.Greedy(12));
        var uncached = generator.Generate(prompts, GenerationOptions.Greedy(12) with { UseCache = false });
        Assert.Equal(uncached.Select(r => r[0]), cached.Select(r => r[0]));
        for (int i = 0; i < prompts.Count; i++)
            Assert.Equal(generator.Generate([prompts[i]], GenerationOptions.Greedy(12))[0][0], cached[i][0]);
        Assert.Contains(cached, r => r[0].Length > 0);

        // Seeded sampling draws the same tokens with and without the cache.
        var sampling = new GenerationOptions { MaxNewTokens = 10, Temperature = 1.0, SamplesPerPrompt = 2, Seed = 7 };
        Assert.Equal(generator.Generate(prompts, sampling with { UseCache = false }).SelectMany(r => r), generator.Generate(prompts, sampling).SelectMany(r => r));
    }

    [Fact]
    public void The_encoder_reads_every_prompt_ended_by_end_of_sequence_as_t5s_tokenizer_writes_it()
    {
        using var model = new T5LanguageModel(Tiny(v11: true), new Generator(6));
        int[] prompt = [5, 7, 3], target = [9, 4];
        using (var batch = model.Collate([new Modeling.Training.LanguageModelExample(prompt, target)], padId: 0))
        {
            Assert.Equal(new long[] { 5, 7, 3, 1 }, batch.EncoderIds!.data<long>().ToArray());
            Assert.Equal(new long[] { 0, 9, 4 }, batch.InputIds.data<long>().ToArray()); // the decoder: start token, then the target
        }
        using var guard = no_grad();
        using var encoderIds = tensor(new long[] { 5, 7, 3, 1 }, [1, 4]);
        using var decoderIds = tensor(new long[] { 0, 9 }, [1, 2]);
        using var expected = model.forward(encoderIds, null, decoderIds)[0];
        using var scored = model.ContinuationLogits(prompt, target);
        Assert.True(scored.allclose(expected, rtol: 0, atol: 0), "scoring a continuation encodes the prompt with its end-of-sequence");
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(true, 4_000)]
    public void A_saved_folder_loads_back_bit_exact(bool v11, long maxShardBytes)
    {
        using var model = new T5LanguageModel(Tiny(v11), new Generator(8));
        var folder = TinyModels.TempDirectory();
        T5Checkpoint.Save(model, folder, maxShardBytes: maxShardBytes);
        Assert.Equal(maxShardBytes > 0, File.Exists(Path.Combine(folder, HuggingFaceFolder.IndexFile)));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!;
        Assert.Equal(("t5", v11 ? "gated-gelu" : "relu", !v11), ((string)config["model_type"]!, (string)config["feed_forward_proj"]!, (bool)config["tie_word_embeddings"]!));

        using var loaded = T5Checkpoint.LoadModel(folder);
        var weights = loaded.state_dict();
        Assert.Equal(model.state_dict().Keys.Order(), weights.Keys.Order());
        foreach (var (name, value) in model.state_dict())
            Assert.True(value.allclose(weights[name], rtol: 0, atol: 0), $"{name} changed on the way through the folder");
        Assert.DoesNotContain(weights.Keys, k => k.Contains("embed_tokens")); // one shared embedding, stored once
        // Every tensor under its Hugging Face name, once: the file holds exactly the parameters.
        Assert.All(weights.Keys, k => Assert.Matches(@"^(shared|lm_head|(encoder|decoder)\.(final_layer_norm|block\.\d+\.layer\.\d+\.(SelfAttention|EncDecAttention|DenseReluDense|layer_norm)))\.", k));
        Assert.Equal(model.ParameterCount, weights.Values.Sum(t => t.numel()));
    }

    [Fact]
    public void A_file_that_also_stores_the_tied_embeddings_under_their_other_names_loads_and_a_missing_tensor_is_named()
    {
        using var model = new T5LanguageModel(Tiny(v11: false), new Generator(9));
        var folder = TinyModels.TempDirectory();
        // Some conversions store encoder.embed_tokens, decoder.embed_tokens and lm_head beside shared: the same matrix.
        var tensors = model.state_dict().ToDictionary(p => p.Key, p => p.Value);
        foreach (var alias in new[] { "encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight" }) tensors[alias] = tensors["shared.weight"];
        // T5 v1.0 files also carry the first decoder block's cross-attention bias, which T5 never uses.
        tensors["decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"] = tensors["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"];
        T5Checkpoint.Save(model, folder);
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        using (var loaded = T5Checkpoint.LoadModel(folder))
            Assert.True(loaded.state_dict()["shared.weight"].allclose(tensors["shared.weight"], rtol: 0, atol: 0));

        tensors.Remove("decoder.block.1.layer.1.EncDecAttention.k.weight");
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var error = Assert.Throws<CheckpointException>(() => T5Checkpoint.LoadModel(folder).Dispose());
        Assert.Contains("missing tensor 'decoder.block.1.layer.1.EncDecAttention.k.weight'", error.Message);

        var configPath = Path.Combine(folder, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        config["feed_forward_proj"] = "gated-swish";
        File.WriteAllText(configPath, config.ToJsonString());
        var refused = Assert.Throws<CheckpointException>(() => T5Checkpoint.LoadModel(folder).Dispose());
        Assert.Contains("feed_forward_proj", refused.Message);
        Assert.Contains(configPath, refused.Message);
    }

    /// <summary>The same model computed one number at a time from its weights, in double precision: the buckets from
    /// their definition (in double logarithms), attention as explicit unscaled dot products plus the bucket's bias.</summary>
    private sealed class ReferenceT5(T5LanguageModel model)
    {
        private readonly T5Config _c = model.Config;
        private readonly Dictionary<string, float[,]> _m = PlainArithmetic.Weights(model).Matrices;
        private readonly Dictionary<string, float[]> _v = PlainArithmetic.Weights(model).Vectors;

        public double[,] Logits(int[] prompt, int[] written)
        {
            var encoded = Stack("encoder", Embed(prompt), null, bidirectional: true);
            var decoded = Stack("decoder", Embed(written), encoded, bidirectional: false);
            var head = _c.TieWordEmbeddings ? _m["shared.weight"] : _m["lm_head.weight"];
            double scale = _c.TieWordEmbeddings ? Math.Pow(_c.ModelSize, -0.5) : 1;
            var logits = new double[written.Length, _c.VocabSize];
            for (int t = 0; t < written.Length; t++)
                for (int token = 0; token < _c.VocabSize; token++)
                    logits[t, token] = Enumerable.Range(0, _c.ModelSize).Sum(h => decoded[t][h] * scale * head[token, h]);
            return logits;
        }

        private double[][] Embed(int[] ids) => ids.Select(id => Enumerable.Range(0, _c.ModelSize).Select(h => (double)_m["shared.weight"][id, h]).ToArray()).ToArray();

        private double[][] Stack(string stack, double[][] x, double[][]? encoded, bool bidirectional)
        {
            int layers = stack == "encoder" ? _c.EncoderLayers : _c.DecoderLayers;
            var relative = _m[$"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"];
            for (int layer = 0; layer < layers; layer++)
            {
                string p = $"{stack}.block.{layer}.layer.";
                var normed = x.Select(row => Norm(row, p + "0.layer_norm.weight")).ToArray();
                var self = Attention(normed, normed, p + "0.SelfAttention", (i, j, h) =>
                    !bidirectional && j > i ? double.NegativeInfinity : relative[Bucket(j - i, bidirectional), h]);
                x = x.Select((row, t) => Add(row, self[t])).ToArray();
                int ff = 1;
                if (encoded is not null)
                {
                    var n = x.Select(row => Norm(row, p + "1.layer_norm.weight")).ToArray();
                    var cross = Attention(n, encoded, p + "1.EncDecAttention", (_, _, _) => 0);
                    x = x.Select((row, t) => Add(row, cross[t])).ToArray();
                    ff = 2;
                }
                x = x.Select(row => Add(row, FeedForward(Norm(row, p + $"{ff}.layer_norm.weight"), p + $"{ff}.DenseReluDense"))).ToArray();
            }
            return x.Select(row => Norm(row, $"{stack}.final_layer_norm.weight")).ToArray();
        }

        private double[][] Attention(double[][] queries, double[][] keysValues, string p, Func<int, int, int, double> bias)
        {
            int d = _c.HeadSize;
            var q = queries.Select(r => Project(r, p + ".q.weight")).ToArray();
            var k = keysValues.Select(r => Project(r, p + ".k.weight")).ToArray();
            var v = keysValues.Select(r => Project(r, p + ".v.weight")).ToArray();
            var output = new double[queries.Length][];
            for (int i = 0; i < queries.Length; i++)
            {
                var attended = new double[_c.InnerSize];
                for (int h = 0; h < _c.HeadCount; h++)
                {
                    var scores = Enumerable.Range(0, keysValues.Length).Select(j => Enumerable.Range(0, d).Sum(e => q[i][h * d + e] * k[j][h * d + e]) + bias(i, j, h)).ToArray();
                    double max = scores.Max();
                    var weights = scores.Select(s => Math.Exp(s - max)).ToArray();
                    double total = weights.Sum();
                    for (int j = 0; j < keysValues.Length; j++)
                        for (int e = 0; e < d; e++) attended[h * d + e] += weights[j] / total * v[j][h * d + e];
                }
                output[i] = Project(attended, p + ".o.weight");
            }
            return output;
        }

        private double[] FeedForward(double[] x, string p)
        {
            double[] hidden = _c.Gated
                ? Project(x, p + ".wi_0.weight").Select(g => 0.5 * g * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (g + 0.044715 * g * g * g)))) // gelu_new
                    .Zip(Project(x, p + ".wi_1.weight"), (a, b) => a * b).ToArray()
                : Project(x, p + ".wi.weight").Select(h => Math.Max(h, 0)).ToArray();
            return Project(hidden, p + ".wo.weight");
        }

        private int Bucket(int relative, bool bidirectional)
        {
            int buckets = bidirectional ? _c.RelativeBuckets / 2 : _c.RelativeBuckets;
            int offset = bidirectional && relative > 0 ? buckets : 0;
            int distance = bidirectional ? Math.Abs(relative) : Math.Max(-relative, 0);
            int exact = buckets / 2;
            if (distance < exact) return offset + distance;
            return offset + Math.Min(buckets - 1, exact + (int)(Math.Log(distance / (double)exact) / Math.Log(_c.RelativeMaxDistance / (double)exact) * (buckets - exact)));
        }

        private double[] Norm(double[] row, string name) => PlainArithmetic.RmsNorm(row, _v[name], _c.LayerNormEpsilon);

        private double[] Project(double[] row, string name) => PlainArithmetic.Project(row, _m[name]);

        private static double[] Add(double[] a, double[] b) => PlainArithmetic.Add(a, b);
    }
}
