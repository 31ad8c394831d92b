using MentorKd.Distillation.Training;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Runtime;
using MentorKd.Modeling.Tokenization;
using MentorKd.Modeling.Training;
using static TorchSharp.torch;

namespace MentorKd.Distillation.Tests;

/// <summary>The sparse soft-label store: what a student learns from it against the mentor's full distribution, its size
/// per token, and the stores and settings it refuses.</summary>
public class SparseSoftLabelStoreTests : IDisposable
{
    private const double Temperature = 2.0;
    private static readonly ReasoningTrainingOptions Kl = new() { KdMode = KnowledgeDistillationMode.Kl, KdMask = KnowledgeDistillationMask.Clean, Temperature = Temperature };
    private readonly string _folder = Directory.CreateTempSubdirectory("mentorkd-soft-label-store-").FullName;
    private readonly CharTokenizer _tokenizer = CharTokenizer.FromCorpus(["abcdefghijklmnop ->"]);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void With_every_id_kept_the_stored_kl_term_equals_the_in_process_mentors_and_with_the_top_few_it_stays_close()
    {
        using var mentor = new GptLanguageModel(GptConfig.Small(_tokenizer.VocabSize, 1, 2, 32, 64, eosTokenId: _tokenizer.EndOfTextId), new Generator(3));
        var examples = Examples(6, seed: 1);
        using var batch = LanguageModelBatch.Collate(examples, _tokenizer.PadId, 64);
        using var student = randn([batch.InputIds.shape[0], batch.InputIds.shape[1], _tokenizer.VocabSize], generator: new Generator(5));
        using var full = no_grad();
        var inProcess = KlTerm(MentorSoftLabels.FromLogits(mentor.TeacherForced(batch)), student, batch);

        var exact = StoredSoftLabels.For(Write("all.safetensors", mentor, examples, _tokenizer.VocabSize), _tokenizer, Kl, encoderDecoder: false, "store");
        Assert.Equal(inProcess, KlTerm(exact.SoftLabels(batch), student, batch), 2); // fp16 log-probabilities

        var top4 = StoredSoftLabels.For(Write("top4.safetensors", mentor, examples, 4), _tokenizer, Kl, encoderDecoder: false, "store");
        var approximate = KlTerm(top4.SoftLabels(batch), student, batch);
        Assert.NotEqual(inProcess, approximate, 4);
        Assert.True(Math.Abs(approximate - inProcess) < 0.1 * inProcess, $"top-4 KL {approximate} against the full distribution's {inProcess}");
    }

    [Theory]
    [InlineData(512, 67)]      // ids as I16: 16 × (2 + 2) + 2 bytes a token, plus 16 a sequence
    [InlineData(50_257, 99)]   // GPT-2's vocabulary needs I32 ids: 16 × (2 + 4) + 2
    public void At_k_16_a_store_takes_at_most_the_bytes_per_token_asked_and_reads_back_every_id(int vocab, int bytesPerToken)
    {
        var random = new Random(vocab);
        var sequences = Enumerable.Range(0, 200).Select(_ =>
        {
            var tokens = Enumerable.Range(0, 60).Select(_ => random.Next(vocab)).ToArray();
            int positions = 40;
            // Each position's 16 ids are distinct, as a top k is.
            var ids = Enumerable.Range(0, positions).SelectMany(_ => Enumerable.Range(0, 16).Select(j => (random.Next(vocab / 16) * 16 + j) % vocab)).ToArray();
            var logProbs = Enumerable.Range(0, positions * 16).Select(i => -1f - i % 16).ToArray();
            return new StoredSequence(tokens, 20, ids, logProbs, Enumerable.Repeat(0.01f, positions).ToArray());
        }).ToList();
        var path = Path.Combine(_folder, $"v{vocab}.safetensors");
        long bytes = SparseSoftLabelStore.Write(path, new SparseSoftLabelStoreInfo(vocab, "f", Temperature, 16, "m"), sequences);

        Assert.True(bytes / (200.0 * 40) <= bytesPerToken, $"{bytes / (200.0 * 40):0.0} bytes a token");
        var store = SparseSoftLabelStore.Read(path);
        Assert.Equal((200, 8_000L, 16), (store.Info.Sequences, store.Info.Positions, store.Info.TopK));
        Assert.True(store.TryFind(sequences[7].Tokens, 20, out var row));
        Assert.False(store.TryFind(sequences[7].Tokens, 21, out _)); // the same tokens split elsewhere are another sequence
        var distribution = new float[vocab];
        store.Fill(row + 3, distribution);
        for (int j = 0; j < 16; j++)
            Assert.Equal(-1f - j, distribution[sequences[7].TopIds[3 * 16 + j]], 2);
    }

    [Fact]
    public void A_student_with_another_tokenizer_temperature_or_setting_is_refused_naming_what_differs()
    {
        using var mentor = new GptLanguageModel(GptConfig.Small(_tokenizer.VocabSize, 1, 2, 32, 64, eosTokenId: _tokenizer.EndOfTextId), new Generator(3));
        var store = Write("s.safetensors", mentor, Examples(3, seed: 2), 4);
        var other = CharTokenizer.FromCorpus(["abcdefghijklmnoq ->"]); // same size, one token differs

        Assert.Contains("soft_labels.stored_key: the store's soft labels are over another vocabulary",
            Assert.Throws<InvalidDataException>(() => StoredSoftLabels.For(store, other, Kl, false, "soft_labels.stored_key")).Message);
        Assert.StartsWith("training.temperature: the store holds soft labels at T=2",
            Assert.Throws<InvalidDataException>(() => StoredSoftLabels.For(store, _tokenizer, Kl with { Temperature = 1 }, false, "f")).Message);
        Assert.StartsWith("training.kd_mask",
            Assert.Throws<InvalidDataException>(() => StoredSoftLabels.For(store, _tokenizer, Kl with { KdMask = KnowledgeDistillationMask.Faithful }, false, "f")).Message);
        Assert.StartsWith("training.kd_mode",
            Assert.Throws<InvalidDataException>(() => StoredSoftLabels.For(store, _tokenizer, Kl with { KdMode = KnowledgeDistillationMode.Mse }, false, "f")).Message);
        Assert.Contains("decoder-only", Assert.Throws<InvalidDataException>(() => StoredSoftLabels.For(store, _tokenizer, Kl, true, "f")).Message);

        // A batch whose sequences the store was not written for.
        using var unknown = LanguageModelBatch.Collate(Examples(1, seed: 9), _tokenizer.PadId, 64);
        Assert.Contains("has no labels for a training sequence",
            Assert.Throws<InvalidDataException>(() => StoredSoftLabels.For(store, _tokenizer, Kl, false, "f").SoftLabels(unknown)).Message);
    }

    [Fact]
    public void A_file_that_is_not_a_whole_store_is_refused_before_anything_is_read_from_it()
    {
        var checkpoint = Path.Combine(_folder, "model.safetensors");
        using (var weights = ones(4))
            SafetensorsWriter.Write(checkpoint, new Dictionary<string, Tensor> { ["w"] = weights }, new Dictionary<string, string> { ["format"] = "pt" });
        Assert.Contains("not a sparse soft-label store (format 'pt'", Assert.Throws<InvalidDataException>(() => SparseSoftLabelStore.Read(checkpoint)).Message);

        using var mentor = new GptLanguageModel(GptConfig.Small(_tokenizer.VocabSize, 1, 2, 32, 64, eosTokenId: _tokenizer.EndOfTextId), new Generator(3));
        Write("whole.safetensors", mentor, Examples(3, seed: 2), 4);
        var whole = File.ReadAllBytes(Path.Combine(_folder, "whole.safetensors"));
        var truncated = Path.Combine(_folder, "truncated.safetensors");
        File.WriteAllBytes(truncated, whole[..^10]);
        Assert.Throws<SafetensorsFormatException>(() => SparseSoftLabelStore.Read(truncated));
    }

    /// <summary>Random prompt → target examples over the tokenizer's letters.</summary>
    private List<LanguageModelExample> Examples(int count, int seed)
    {
        var random = new Random(seed);
        int[] Letters(int n) => Enumerable.Range(0, n).Select(_ => 3 + random.Next(_tokenizer.VocabSize - 3)).ToArray();
        return Enumerable.Range(0, count).Select(i => new LanguageModelExample(Letters(3 + i % 3), [.. Letters(4 + i % 4), _tokenizer.EndOfTextId])).ToList();
    }

    /// <summary>The mentor's top k at T for each example's target-predicting positions, as the mentor-server computes them, in a store.</summary>
    private SparseSoftLabelStore Write(string name, GptLanguageModel mentor, IReadOnlyList<LanguageModelExample> examples, int k)
    {
        using var guard = no_grad();
        var sequences = examples.Select(e =>
        {
            using var scope = NewDisposeScope();
            int[] tokens = [.. e.Prompt, .. e.Target];
            var logProbs = mentor.Logits(tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]), null, null)[0, (e.Prompt.Length - 1)..^1]
                .DividedBy(Temperature).log_softmax(-1);
            var (values, ids) = logProbs.topk(k, dim: -1);
            var top = values.data<float>().ToArray();
            var remaining = top.Chunk(k).Select(row => (float)Math.Max(0, 1 - row.Sum(v => Math.Exp(v)))).ToArray();
            return new StoredSequence(tokens, e.Prompt.Length, ids.to(ScalarType.Int32).data<int>().ToArray(), top, remaining);
        }).ToList();
        var path = Path.Combine(_folder, name);
        SparseSoftLabelStore.Write(path, new SparseSoftLabelStoreInfo(_tokenizer.VocabSize, TokenizerVocabulary.Fingerprint(_tokenizer), Temperature, k, "test mentor"), sequences);
        return SparseSoftLabelStore.Read(path);
    }

    private static double KlTerm(MentorSoftLabels mentor, Tensor student, LanguageModelBatch batch) =>
        DistillationLoss.Compute(student, mentor, batch.Labels, batch.AfterPrompt, KnowledgeDistillationMode.Kl, KnowledgeDistillationMask.Clean, 0.5, Temperature)
            .SoftTerm!.item<float>();
}
