using MentorKd.Distillation.Training;
using MentorKd.Embedded;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;
using MentorKd.Modeling.Training;
using MentorKd.Storage;
using MentorKd.Protos.V1;
using MentorKd.Trainer.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using static TorchSharp.torch;

namespace MentorKd.Benchmarks;

/// <summary>
/// <c>make bench-softlabels</c>: a student's distillation throughput (tokens/s of the trainer's own loop) with soft labels
/// from a mentor held in the trainer's process against soft labels from the mentor-server over gRPC (the embedded
/// platform's, on loopback: the same process, so both share the 2 cores as they do in <c>make run</c>). Mentor and student
/// are the default run's shapes (4 layers × 256 and 3 × 96, context 128), random weights, a 512-word vocabulary; rows of
/// 24 prompt + 72 target tokens, batch 16, KL at T = 2 with the clean mask, top-32 from the mentor-server; and from a sparse
/// soft-label store (top-16) the mentor-server wrote once beforehand.
/// </summary>
internal static class SoftLabelBenchmark
{
    private const int Vocab = 512, Context = 128, Rows = 640, PromptTokens = 24, TargetTokens = 72;

    public static async Task<int> RunAsync(int rounds)
    {
        var root = Path.Combine(Path.GetTempPath(), "mentorkd-bench-softlabels", Guid.NewGuid().ToString("N"));
        var tokenizer = WordTokenizer.FromCorpus([string.Join(" ", Enumerable.Range(0, Vocab - 4).Select(i => $"{(char)('a' + i / 26)}{(char)('a' + i % 26)}"))]);
        var random = new Random(3);
        var examples = Enumerable.Range(0, Rows).Select(_ => new LanguageModelExample(
            Enumerable.Range(0, PromptTokens).Select(_ => random.Next(4, tokenizer.VocabSize)).ToArray(),
            Enumerable.Range(0, TargetTokens).Select(_ => random.Next(4, tokenizer.VocabSize)).ToArray())).ToList();
        var mentorFolder = Path.Combine(root, "mentor");
        using (var mentor = new GptLanguageModel(GptConfig.Small(tokenizer.VocabSize, 4, 4, 256, Context, eosTokenId: tokenizer.EndOfTextId), new Generator(1)))
            GptCheckpoint.Save(mentor, tokenizer, mentorFolder);

        await using var platform = await EmbeddedPlatform.StartAsync(new EmbeddedPlatformOptions { DataRoot = Path.Combine(root, "platform"), Threads = 2 });
        const string mentorKey = "models/bench-softlabel-mentor/";
        await platform.Services.GetRequiredService<IObjectStore>().UploadAsync(mentorFolder, mentorKey);
        var client = new Protos.V1.MentorServer.MentorServerClient(platform.Channel);
        await client.LoadCheckpointAsync(new LoadCheckpointRequest { CheckpointKey = mentorKey });
        using var inProcessMentor = ModelCheckpoints.LoadModel(mentorFolder);

        var options = new ReasoningTrainingOptions
        {
            Epochs = 1, BatchSize = 16, KdMode = KnowledgeDistillationMode.Kl, KdMask = KnowledgeDistillationMask.Clean, Lambda = 0.3, Temperature = 2.0,
        };
        // The sparse store is written once, through the mentor-server, before any round (what a run's student job does first).
        var storePath = Path.Combine(root, "soft-labels.safetensors");
        var written = await SoftLabelStoreBuilder.WriteAsync(MentorServer(client, tokenizer.VocabSize, options, prefetch: false, topK: 16), examples, tokenizer,
            options.Temperature, mentorKey, "", storePath, default);
        var store = SparseSoftLabelStore.Read(storePath);
        AnsiConsole.MarkupLineInterpolated($"[grey]sparse store: {written.Sequences} sequences, {written.Positions:N0} scored tokens, {written.Bytes:N0} bytes ({(double)written.Bytes / written.Positions:0.0} a token), written in {written.Elapsed.TotalSeconds:0.0} s[/]");

        (string Name, Func<ISoftLabelSource> Source)[] sources =
        [
            ("in process (mentor forward on the training thread)", () => new InProcessMentorSoftLabels(inProcessMentor, "in-process")),
            ("mentor-server over gRPC, one call per step", () => MentorServer(client, tokenizer.VocabSize, options, prefetch: false)),
            ("mentor-server over gRPC, next batch prefetched", () => MentorServer(client, tokenizer.VocabSize, options, prefetch: true)),
            ("sparse store, top-16 (written once through the mentor-server)", () => StoredSoftLabels.For(store, tokenizer, options, encoderDecoder: false, "store")),
        ];
        var measured = sources.ToDictionary(s => s.Name, _ => new List<double>());
        for (int round = 0; round < rounds; round++)
            foreach (var (name, source) in sources)
            {
                AnsiConsole.MarkupLineInterpolated($"[grey]round {round + 1}/{rounds}: {name}…[/]");
                measured[name].Add(await Task.Run(() => TokensPerSecond(examples, tokenizer, options, source(), Path.Combine(root, "jobs", Guid.NewGuid().ToString("N")))));
            }

        var baseline = Measure.Median(measured[sources[0].Name]);
        var table = new Table().Title($"Student distillation throughput, tokens/s ({rounds} rounds, median and range; {Rows} rows of {PromptTokens} + {TargetTokens} tokens, batch 16)");
        foreach (var column in new[] { "soft labels", "tokens/s", "range", "/ in process" }) table.AddColumn(column);
        foreach (var (name, _) in sources)
        {
            var values = measured[name];
            table.AddRow(Markup.Escape(name), $"{Measure.Median(values):N0}", $"{values.Min():N0}–{values.Max():N0}", $"{Measure.Median(values) / baseline:P0}");
        }
        AnsiConsole.Write(table);
        Directory.Delete(root, recursive: true);
        return 0;
    }

    private static MentorServerSoftLabels MentorServer(Protos.V1.MentorServer.MentorServerClient client, int vocab, ReasoningTrainingOptions options, bool prefetch,
        int topK = 32) => new(client, topK, options.Temperature, vocab, options.KdMask, prefetch: prefetch);

    /// <summary>One epoch of the trainer's own loop (a fresh student, the same initial weights each time); its reported rate.</summary>
    private static double TokensPerSecond(IReadOnlyList<LanguageModelExample> examples, ITokenizer tokenizer, ReasoningTrainingOptions options,
        ISoftLabelSource source, string folder)
    {
        using var student = new GptLanguageModel(GptConfig.Small(tokenizer.VocabSize, 3, 3, 96, Context, eosTokenId: tokenizer.EndOfTextId), new Generator(2));
        double rate = 0;
        new ReasoningModelTrainer(options, tokenizer, [], []).Train("bench", student, examples, source, folder,
            progress: p => { if (p.Phase == "train") rate = p.TokensPerSecond; });
        return rate;
    }
}
