using System.Text.Json;
using System.Text.Json.Nodes;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Tests;

/// <summary>The Llama family (Llama, Qwen2, SmolLM2, Mistral) on tiny random checkpoints in Hugging Face's layout:
/// logits against a computation written here in plain arithmetic, rotary tables against their closed form, folders
/// saved and read back exactly (one file or shards, F32 or BF16), cached decoding against uncached, and malformed
/// folders refused naming the file and tensor.</summary>
public class LlamaModelTests
{
    static LlamaModelTests() => Runtime.TorchRuntime.SetThreads(2);

    internal static LlamaConfig Tiny(string modelType = "llama", bool tied = false, int keyValueHeads = 2, RopeScaling? scaling = null) =>
        LlamaConfig.Small(vocabSize: 40, layers: 2, heads: 4, keyValueHeads: keyValueHeads, hidden: 32, intermediate: 48, contextLength: 64, eosTokenId: 1) with
        {
            ModelType = modelType, TieWordEmbeddings = tied, RopeTheta = 500, RopeScaling = scaling,
            // Qwen2 has q/k/v biases from its model type; give the Llama variant biases everywhere to check that path too.
            AttentionBias = modelType == "qwen2" ? null : true, MlpBias = modelType != "qwen2",
        };

    public static TheoryData<string, bool, int> Variants => new()
    {
        { "llama", false, 2 },   // grouped-query attention, untied head, biases on every projection
        { "qwen2", true, 1 },    // one key/value head for all four, q/k/v biases only, tied head
        { "mistral", false, 4 }, // plain multi-head attention
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Logits_match_a_step_by_step_computation_in_plain_arithmetic(string modelType, bool tied, int keyValueHeads)
    {
        var config = Tiny(modelType, tied, keyValueHeads);
        using var model = new LlamaLanguageModel(config, new Generator(3));
        TinyModels.RandomizeNorms(model, "norm.weight");
        int[] ids = [1, 7, 3, 39, 12, 5, 0, 22];
        float[,] logits;
        using (var input = tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]))
        using (var output = model.forward(input))
            logits = TinyModels.ToMatrix(output[0]);

        var expected = new ReferenceLlama(model).Logits(ids);
        for (int t = 0; t < ids.Length; t++)
            for (int v = 0; v < config.VocabSize; v++)
                Assert.True(Math.Abs(expected[t, v] - logits[t, v]) < 2e-4, $"position {t}, token {v}: {logits[t, v]} vs {expected[t, v]}");
    }

    [Fact]
    public void Rotary_tables_are_the_closed_form_cos_and_sin_of_position_times_frequency()
    {
        const int headSize = 8;
        const double theta = 10000;
        var frequencies = RopeScaling.InverseFrequencies(headSize, theta, null);
        Assert.Equal(new[] { 1, 0.1, 0.01, 0.001 }, frequencies.Select(f => Math.Round(f, 12)));
        var rotary = new RotaryEmbedding(frequencies);
        long[] positions = [0, 1, 5, 63];
        using var at = tensor(positions, [1, positions.Length]);
        var (cos, sin) = rotary.At(at, ScalarType.Float32);
        using (cos)
        using (sin)
        {
            Assert.Equal(new long[] { 1, 1, positions.Length, headSize }, cos.shape);
            var (c, s) = (TinyModels.ToMatrix(cos[0, 0]), TinyModels.ToMatrix(sin[0, 0]));
            for (int p = 0; p < positions.Length; p++)
                for (int i = 0; i < headSize; i++)
                {
                    double angle = positions[p] * Math.Pow(theta, -2.0 * (i % (headSize / 2)) / headSize);
                    Assert.Equal(Math.Cos(angle), c[p, i], 5);
                    Assert.Equal(Math.Sin(angle), s[p, i], 5);
                }
        }

        // Linear scaling divides every frequency; Llama 3's keeps short wavelengths, divides long ones and blends between.
        Assert.Equal(frequencies.Select(f => f / 4), RopeScaling.InverseFrequencies(headSize, theta, new RopeScaling { RopeType = "linear", Factor = 4 }));
        var llama3 = RopeScaling.InverseFrequencies(headSize, theta,
            new RopeScaling { RopeType = "llama3", Factor = 8, LowFrequencyFactor = 1, HighFrequencyFactor = 4, OriginalContextLength = 1000 });
        // Wavelengths 2π/f: 6.3 and 62.8 are under 1000/4 (kept), 6283 over 1000/1 (divided by 8), 628 in the band.
        double blend = (1000 / (2 * Math.PI / 0.01) - 1) / (4 - 1);
        Assert.Equal(1, llama3[0], 12);
        Assert.Equal(0.1, llama3[1], 12);
        Assert.Equal((1 - blend) * 0.01 / 8 + blend * 0.01, llama3[2], 12);
        Assert.Equal(0.001 / 8, llama3[3], 12);
    }

    [Fact]
    public void Cached_decoding_and_left_padded_batches_give_the_same_tokens_as_full_recomputation()
    {
        using var model = new LlamaLanguageModel(Tiny(), new Generator(5));
        var generator = new TokenGenerator(model, endOfTextId: 1, padId: 0);
        List<int[]> prompts = [[2, 9, 4, 17, 3], [6, 30], [11, 12, 13]];
        var cached = generator.Generate(prompts, GenerationOptions.Greedy(12));
        var uncached = generator.Generate(prompts, GenerationOptions.Greedy(12) with { UseCache = false });
        Assert.Equal(uncached.Select(r => r[0]), cached.Select(r => r[0]));
        for (int i = 0; i < prompts.Count; i++)
            Assert.Equal(generator.Generate([prompts[i]], GenerationOptions.Greedy(12))[0][0], cached[i][0]);
        Assert.Contains(cached, r => r[0].Length > 0);
    }

    [Theory]
    [InlineData(false, 0)]     // F32, one file
    [InlineData(true, 0)]      // BF16, one file
    [InlineData(false, 20000)] // F32 in shards with an index
    public void A_saved_folder_loads_back_bit_exact(bool bf16, long maxShardBytes)
    {
        using var model = new LlamaLanguageModel(Tiny("qwen2", tied: true, keyValueHeads: 2), new Generator(7));
        var folder = Path.Combine(TinyModels.TempDirectory(), "model");
        var dtype = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        LlamaCheckpoint.Save(model, folder, dtype, maxShardBytes);
        Assert.Equal(maxShardBytes > 0, File.Exists(Path.Combine(folder, HuggingFaceFolder.IndexFile)));
        if (maxShardBytes > 0) Assert.True(HuggingFaceFolder.WeightFiles(folder).Count > 1);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        Assert.Equal("qwen2", config.RootElement.GetProperty("model_type").GetString());
        Assert.Equal(bf16 ? "bfloat16" : "float32", config.RootElement.GetProperty("torch_dtype").GetString());

        using var loaded = LlamaCheckpoint.LoadModel(folder);
        var weights = loaded.state_dict();
        foreach (var (name, value) in model.state_dict())
        {
            using var stored = value.to(dtype).to(ScalarType.Float32);
            Assert.True(stored.allclose(weights[name], rtol: 0, atol: 0), $"{name} changed on the way through the folder");
        }
        var (saved, read) = (model.Config, loaded.Config);
        Assert.Equal((saved.ModelType, saved.VocabSize, saved.HiddenSize, saved.LayerCount, saved.HeadCount, saved.KeyValueHeads, saved.TieWordEmbeddings),
            (read.ModelType, read.VocabSize, read.HiddenSize, read.LayerCount, read.HeadCount, read.KeyValueHeads, read.TieWordEmbeddings));
        Assert.Equal(saved.EosTokenIds, read.EosTokenIds);
    }

    [Theory]
    [InlineData("missing-tensor", "missing tensor 'model.layers.1.mlp.down_proj.weight'")]
    [InlineData("wrong-shape", "tensor 'model.norm.weight' has shape [31]")]
    [InlineData("stranger", "tensor 'model.layers.0.extra.weight' is not part of a llama model")]
    [InlineData("rope", "rope_scaling.rope_type 'yarn' is not supported")]
    [InlineData("activation", "hidden_act 'gelu' is not supported")]
    [InlineData("heads", "num_key_value_heads must divide num_attention_heads")]
    [InlineData("shard", "is missing from the folder")]
    [InlineData("traversal", "is not a file name in the model folder")]
    public void A_malformed_folder_is_refused_naming_the_file_and_tensor(string fault, string message)
    {
        using var model = new LlamaLanguageModel(Tiny(), new Generator(9));
        var folder = Path.Combine(TinyModels.TempDirectory(), "model");
        LlamaCheckpoint.Save(model, folder, maxShardBytes: fault is "shard" or "traversal" ? 30000 : 0);
        var weightsPath = Path.Combine(folder, "model.safetensors");
        var configPath = Path.Combine(folder, "config.json");
        void RewriteWeights(Action<Dictionary<string, Tensor>> change)
        {
            var tensors = SafetensorsReader.ReadAll(weightsPath);
            change(tensors);
            SafetensorsWriter.Write(weightsPath, tensors);
        }
        void RewriteConfig(string key, string json)
        {
            var node = JsonNode.Parse(File.ReadAllText(configPath))!;
            node[key] = JsonNode.Parse(json);
            File.WriteAllText(configPath, node.ToJsonString());
        }
        var lastShard = Path.GetFileName(HuggingFaceFolder.WeightFiles(folder)[^1]);
        switch (fault)
        {
            case "missing-tensor": RewriteWeights(t => t.Remove("model.layers.1.mlp.down_proj.weight")); break;
            case "wrong-shape": RewriteWeights(t => t["model.norm.weight"] = ones(31)); break;
            case "stranger": RewriteWeights(t => t["model.layers.0.extra.weight"] = ones(2)); break;
            case "rope": RewriteConfig("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4}"); break;
            case "activation": RewriteConfig("hidden_act", "\"gelu\""); break;
            case "heads": RewriteConfig("num_key_value_heads", "3"); break;
            case "shard": File.Delete(Path.Combine(folder, lastShard)); break;
            case "traversal":
                var index = Path.Combine(folder, HuggingFaceFolder.IndexFile);
                File.WriteAllText(index, File.ReadAllText(index).Replace(lastShard, "../" + lastShard));
                break;
        }
        var error = Assert.Throws<CheckpointException>(() => LlamaCheckpoint.LoadModel(folder).Dispose());
        Assert.Contains(message, error.Message);
        Assert.Contains(folder, error.Message);
    }

    [Fact]
    public void Every_family_loads_through_one_entry_point_with_its_tokenizer_and_an_unknown_model_type_is_refused_naming_it()
    {
        var tokenizer = TinyModels.RhymeTokenizer();
        using var model = new LlamaLanguageModel(Tiny(), new Generator(13));
        var folder = Path.Combine(TinyModels.TempDirectory(), "model");
        ModelCheckpoints.Save(model, tokenizer, folder);
        var (loaded, loadedTokenizer) = ModelCheckpoints.Load(folder);
        using (loaded)
        {
            Assert.IsType<LlamaLanguageModel>(loaded);
            Assert.Equal(tokenizer.Encode(TinyModels.Rhyme), loadedTokenizer.Encode(TinyModels.Rhyme));
        }

        var configPath = Path.Combine(folder, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        config["model_type"] = "bert";
        File.WriteAllText(configPath, config.ToJsonString());
        var error = Assert.Throws<CheckpointException>(() => ModelCheckpoints.LoadModel(folder).Dispose());
        Assert.Contains("model_type 'bert' is not supported", error.Message);
        Assert.Contains(configPath, error.Message);
    }

    /// <summary>The same model computed one number at a time from its weights, in double precision, with the rotation
    /// written as pairs (x_i, x_{i+D/2}) turned by position · θ^(-2i/D) and attention as explicit softmaxed dot products.</summary>
    private sealed class ReferenceLlama(LlamaLanguageModel model)
    {
        private readonly LlamaConfig _config = model.Config;
        private readonly Dictionary<string, float[,]> _matrices = PlainArithmetic.Weights(model).Matrices;
        private readonly Dictionary<string, float[]> _vectors = PlainArithmetic.Weights(model).Vectors;

        public double[,] Logits(int[] ids)
        {
            var (hidden, heads, kvHeads, d) = (_config.HiddenSize, _config.HeadCount, _config.KeyValueHeads, _config.HeadSize);
            var embedding = _matrices["model.embed_tokens.weight"];
            var x = new double[ids.Length][];
            for (int t = 0; t < ids.Length; t++) x[t] = Enumerable.Range(0, hidden).Select(h => (double)embedding[ids[t], h]).ToArray();
            for (int layer = 0; layer < _config.LayerCount; layer++)
            {
                string p = $"model.layers.{layer}.";
                var normed = x.Select(row => RmsNorm(row, _vectors[p + "input_layernorm.weight"])).ToArray();
                var q = normed.Select(row => Project(row, p + "self_attn.q_proj")).ToArray();
                var k = normed.Select(row => Project(row, p + "self_attn.k_proj")).ToArray();
                var v = normed.Select(row => Project(row, p + "self_attn.v_proj")).ToArray();
                for (int t = 0; t < ids.Length; t++)
                {
                    for (int h = 0; h < heads; h++) Rotate(q[t], h * d, d, t);
                    for (int h = 0; h < kvHeads; h++) Rotate(k[t], h * d, d, t);
                }
                var attended = new double[ids.Length][];
                for (int t = 0; t < ids.Length; t++)
                {
                    attended[t] = new double[heads * d];
                    for (int h = 0; h < heads; h++)
                    {
                        int kv = h / (heads / kvHeads);
                        var scores = Enumerable.Range(0, t + 1)
                            .Select(s => Enumerable.Range(0, d).Sum(i => q[t][h * d + i] * k[s][kv * d + i]) / Math.Sqrt(d)).ToArray();
                        double max = scores.Max();
                        var weights = scores.Select(s => Math.Exp(s - max)).ToArray();
                        double total = weights.Sum();
                        for (int s = 0; s <= t; s++)
                            for (int i = 0; i < d; i++)
                                attended[t][h * d + i] += weights[s] / total * v[s][kv * d + i];
                    }
                }
                for (int t = 0; t < ids.Length; t++) x[t] = Add(x[t], Project(attended[t], p + "self_attn.o_proj"));
                for (int t = 0; t < ids.Length; t++)
                {
                    var n = RmsNorm(x[t], _vectors[p + "post_attention_layernorm.weight"]);
                    var gate = Project(n, p + "mlp.gate_proj");
                    var up = Project(n, p + "mlp.up_proj");
                    var swiglu = gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
                    x[t] = Add(x[t], Project(swiglu, p + "mlp.down_proj"));
                }
            }
            var head = _config.TieWordEmbeddings ? embedding : _matrices["lm_head.weight"];
            var logits = new double[ids.Length, _config.VocabSize];
            for (int t = 0; t < ids.Length; t++)
            {
                var final = RmsNorm(x[t], _vectors["model.norm.weight"]);
                for (int token = 0; token < _config.VocabSize; token++)
                    logits[t, token] = Enumerable.Range(0, hidden).Sum(h => final[h] * head[token, h]);
            }
            return logits;
        }

        private double[] RmsNorm(double[] row, float[] scale) => PlainArithmetic.RmsNorm(row, scale, _config.RmsNormEpsilon);

        private double[] Project(double[] row, string name) => PlainArithmetic.Project(row, _matrices[name + ".weight"], _vectors.GetValueOrDefault(name + ".bias"));

        private void Rotate(double[] vector, int offset, int d, int position)
        {
            for (int i = 0; i < d / 2; i++)
            {
                double angle = position * Math.Pow(_config.RopeTheta, -2.0 * i / d);
                var (a, b) = (vector[offset + i], vector[offset + i + d / 2]);
                vector[offset + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                vector[offset + i + d / 2] = b * Math.Cos(angle) + a * Math.Sin(angle);
            }
        }

        private static double[] Add(double[] a, double[] b) => PlainArithmetic.Add(a, b);
    }
}
