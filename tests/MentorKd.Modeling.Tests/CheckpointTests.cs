using System.Text.Json;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;
using static TorchSharp.torch;

namespace MentorKd.Modeling.Tests;

public class CheckpointTests
{
    private static readonly CharTokenizer Tokenizer = TinyModels.RhymeTokenizer();

    [Fact]
    public void Saved_folder_carries_exactly_hugging_face_gpt2_names_shapes_and_config()
    {
        using var model = TinyModels.Create(Tokenizer.VocabSize, layers: 2, embedding: 48);
        var folder = Path.Combine(TinyModels.TempDirectory(), "model");
        GptCheckpoint.Save(model, Tokenizer, folder);

        var (entries, _, _) = SafetensorsReader.ReadHeader(Path.Combine(folder, GptCheckpoint.WeightsFile));
        var shapes = entries.ToDictionary(e => e.Name, e => e.Shape);
        long v = Tokenizer.VocabSize, c = 48;
        var expected = new Dictionary<string, long[]>
        {
            ["transformer.wte.weight"] = [v, c],
            ["transformer.wpe.weight"] = [64, c],
            ["transformer.ln_f.weight"] = [c],
            ["transformer.ln_f.bias"] = [c],
        };
        for (int i = 0; i < 2; i++)
        {
            expected[$"transformer.h.{i}.ln_1.weight"] = [c];
            expected[$"transformer.h.{i}.ln_1.bias"] = [c];
            expected[$"transformer.h.{i}.attn.c_attn.weight"] = [c, 3 * c];
            expected[$"transformer.h.{i}.attn.c_attn.bias"] = [3 * c];
            expected[$"transformer.h.{i}.attn.c_proj.weight"] = [c, c];
            expected[$"transformer.h.{i}.attn.c_proj.bias"] = [c];
            expected[$"transformer.h.{i}.ln_2.weight"] = [c];
            expected[$"transformer.h.{i}.ln_2.bias"] = [c];
            expected[$"transformer.h.{i}.mlp.c_fc.weight"] = [c, 4 * c];
            expected[$"transformer.h.{i}.mlp.c_fc.bias"] = [4 * c];
            expected[$"transformer.h.{i}.mlp.c_proj.weight"] = [4 * c, c];
            expected[$"transformer.h.{i}.mlp.c_proj.bias"] = [c];
        }
        Assert.Equal(expected.Keys.Order(), shapes.Keys.Order());
        foreach (var (name, shape) in expected) Assert.Equal(shape, shapes[name]);
        Assert.All(entries, e => Assert.Equal("F32", e.DType));

        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, GptCheckpoint.ConfigFile))).RootElement;
        Assert.Equal("gpt2", config.GetProperty("model_type").GetString());
        Assert.Equal("GPT2LMHeadModel", config.GetProperty("architectures")[0].GetString());
        Assert.Equal(48, config.GetProperty("n_embd").GetInt32());
        Assert.Equal(2, config.GetProperty("n_layer").GetInt32());
        Assert.Equal(v, config.GetProperty("vocab_size").GetInt32());
        Assert.Equal(Tokenizer.EndOfTextId, config.GetProperty("eos_token_id").GetInt32());
        Assert.True(File.Exists(Path.Combine(folder, VocabularyTokenizer.FileName)));
        Assert.Equal([folder], Directory.GetDirectories(Path.GetDirectoryName(folder)!)); // no staging folder left behind
    }

    [Theory]
    [InlineData(ScalarType.Float32, 0.0)]
    [InlineData(ScalarType.BFloat16, 0.05)]
    public void Saved_model_loads_back_with_the_same_outputs(ScalarType dtype, double tolerance)
    {
        using var model = TinyModels.Create(Tokenizer.VocabSize);
        var folder = Path.Combine(TinyModels.TempDirectory(), "model");
        GptCheckpoint.Save(model, Tokenizer, folder, dtype);
        var (loaded, tokenizer) = ModelCheckpoints.Load(folder);
        using var _ = loaded;

        var ids = tensor(Tokenizer.Encode("the cat sat").Select(i => (long)i).ToArray()).unsqueeze(0);
        model.eval();
        using var guard = no_grad();
        var expected = model.forward(ids);
        var actual = loaded.Logits(ids);
        if (tolerance == 0) Assert.Equal(0f, (expected - actual).abs().max().item<float>()); // fp32 round trip is exact
        else Assert.True(expected.allclose(actual, rtol: 0, atol: tolerance), $"max diff {(expected - actual).abs().max().item<float>()}");
        Assert.Equal(Tokenizer.Tokens, ((CharTokenizer)tokenizer).Tokens);
    }

    [Fact]
    public void Folder_in_hugging_face_hub_layout_loads()
    {
        // The hub's gpt2 files: no "transformer." prefix, Conv1D (in, out) weights, causal-mask buffers and
        // sometimes an explicit lm_head.weight. Written here by hand, from a model whose outputs we know.
        using var source = TinyModels.Create(Tokenizer.VocabSize, seed: 5);
        var folder = TinyModels.TempDirectory();
        var hubTensors = new Dictionary<string, Tensor>();
        foreach (var (name, value) in source.state_dict())
        {
            var bare = name["transformer.".Length..];
            hubTensors[bare] = Gpt2TensorNames.IsTransposed(name) ? value.t().contiguous() : value;
        }
        for (int i = 0; i < 2; i++)
        {
            hubTensors[$"h.{i}.attn.bias"] = ones(1, 1, 64, 64).tril();
            hubTensors[$"h.{i}.attn.masked_bias"] = tensor(-1e4f);
        }
        hubTensors["lm_head.weight"] = hubTensors["wte.weight"];
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), hubTensors);
        File.WriteAllText(Path.Combine(folder, "config.json"), $$$"""
            {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1, "bos_token_id": 0,
             "embd_pdrop": 0.1, "eos_token_id": 0, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
             "n_ctx": 64, "n_embd": 48, "n_head": 4, "n_layer": 2, "n_positions": 64, "resid_pdrop": 0.1,
             "summary_type": "cls_index", "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
             "vocab_size": {{{Tokenizer.VocabSize}}}}
            """);

        using var loaded = GptCheckpoint.LoadModel(folder);
        source.eval();
        var ids = tensor(new long[] { 3, 4, 5, 6 }).unsqueeze(0);
        using var guard = no_grad();
        Assert.Equal(0f, (source.forward(ids) - loaded.forward(ids)).abs().max().item<float>());
    }

    [Fact]
    public void Wrong_shape_names_the_file_and_tensor()
    {
        var folder = SavedFolder();
        var config = File.ReadAllText(Path.Combine(folder, "config.json")).Replace("\"n_embd\": 48", "\"n_embd\": 64");
        File.WriteAllText(Path.Combine(folder, "config.json"), config);
        var error = Assert.Throws<CheckpointException>(() => GptCheckpoint.LoadModel(folder));
        Assert.Contains("model.safetensors", error.Message);
        Assert.Contains("has shape [", error.Message);
        Assert.Contains("transformer.", error.Message);
    }

    [Fact]
    public void A_save_killed_between_its_two_renames_leaves_the_previous_checkpoint_readable()
    {
        var folder = SavedFolder();
        // What a crash after "move the old folder aside" and before "move the new one in" leaves behind.
        Directory.Move(folder, folder + ".old-0123");
        using var model = GptCheckpoint.LoadModel(folder);
        Assert.True(Directory.Exists(folder));
        Assert.Empty(Directory.GetDirectories(Path.GetDirectoryName(folder)!, "*.old-*"));
    }

    [Fact]
    public void Missing_tensor_is_named()
    {
        var folder = SavedFolder();
        var weights = Path.Combine(folder, "model.safetensors");
        var tensors = SafetensorsReader.ReadAll(weights);
        tensors.Remove("transformer.h.1.mlp.c_fc.bias");
        SafetensorsWriter.Write(weights, tensors);
        var error = Assert.Throws<CheckpointException>(() => GptCheckpoint.LoadModel(folder));
        Assert.Contains("missing tensor 'transformer.h.1.mlp.c_fc.bias'", error.Message);
        Assert.Contains(weights, error.Message);
    }

    [Fact]
    public void Unexpected_tensor_is_named()
    {
        var folder = SavedFolder();
        var weights = Path.Combine(folder, "model.safetensors");
        var tensors = SafetensorsReader.ReadAll(weights);
        tensors["transformer.h.2.ln_1.weight"] = ones(48);
        SafetensorsWriter.Write(weights, tensors);
        var error = Assert.Throws<CheckpointException>(() => GptCheckpoint.LoadModel(folder));
        Assert.Contains("'transformer.h.2.ln_1.weight' is not part of", error.Message);
    }

    [Fact]
    public void Truncated_weights_fail_cleanly()
    {
        var folder = SavedFolder();
        var weights = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
        var error = Assert.Throws<SafetensorsFormatException>(() => GptCheckpoint.LoadModel(folder));
        Assert.Contains(weights, error.Message);
        Assert.NotNull(error.Tensor);
    }

    [Fact]
    public void Missing_config_and_bad_config_values_are_named()
    {
        var folder = SavedFolder();
        File.WriteAllText(Path.Combine(folder, "config.json"), File.ReadAllText(Path.Combine(folder, "config.json")).Replace("\"n_head\": 4", "\"n_head\": 5"));
        var error = Assert.Throws<CheckpointException>(() => GptCheckpoint.LoadModel(folder));
        Assert.Contains("n_embd", error.Message);
        File.Delete(Path.Combine(folder, "config.json"));
        Assert.Contains("config.json: not found", Assert.Throws<CheckpointException>(() => GptCheckpoint.LoadModel(folder)).Message);
    }

    private static string SavedFolder()
    {
        using var model = TinyModels.Create(Tokenizer.VocabSize);
        var folder = Path.Combine(TinyModels.TempDirectory(), "model");
        GptCheckpoint.Save(model, Tokenizer, folder);
        return folder;
    }
}
