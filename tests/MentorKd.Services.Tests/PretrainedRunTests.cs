using System.Text.Json;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Teachers;
using MentorKd.Distillation.Training;
using MentorKd.Embedded;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

/// <summary>Runs whose mentor and student are Hugging Face model folders a team brings (tiny random ones here, in the
/// exact layout), from config validation to a whole run through the services.</summary>
public class PretrainedRunTests
{
    /// <summary>Coin-flip prompts and teacher targets: what the tiny tokenizers' merges are learned from.</summary>
    private static async Task<IReadOnlyList<string>> CoinFlipCorpusAsync()
    {
        var task = new CoinFlipTask();
        var random = new Random(3);
        var teacher = new SimulatedTeacher(task, 0.0, 1);
        var corpus = new List<string>();
        for (int i = 0; i < 200; i++)
        {
            var question = task.Generate(random, $"c{i}", 2);
            corpus.Add(CotFormat.Prompt(question));
            foreach (var rationale in await teacher.AnnotateAsync(question, 1, CancellationToken.None)) corpus.Add(CotFormat.Target(rationale.Text, question.Answer));
        }
        return corpus;
    }

    private static string NewFolder(string name) => Path.Combine(Path.GetTempPath(), "mentorkd-pretrained-tests", Guid.NewGuid().ToString("N"), name);

    /// <summary>A mentor and a student of one "family": one tokenizer, two sizes (Llama and Qwen2 layouts with a byte-level
    /// BPE tokenizer.json, or T5 with FlanT5's SentencePiece spiece.model).</summary>
    private static async Task<(string Mentor, string Student)> FamilyAsync(int merges = 300, bool t5 = false)
    {
        var tokenizer = NewFolder("tokenizer");
        if (t5)
        {
            Directory.CreateDirectory(tokenizer);
            int pieces = MentorKd.Tests.Shared.SentencePieceFiles.WriteUnigram(Path.Combine(tokenizer, "spiece.model"), await CoinFlipCorpusAsync());
            return (TinyPretrainedFolders.WriteT5(NewFolder("tiny-t5-mentor"), tokenizer, pieces + 28, modelSize: 64, seed: 1), // embeddings wider than the pieces, as T5's are
                TinyPretrainedFolders.WriteT5(NewFolder("tiny-t5-student"), tokenizer, pieces + 28, modelSize: 32, seed: 2));
        }
        int vocab = TinyPretrainedFolders.WriteTokenizer(tokenizer, await CoinFlipCorpusAsync(), merges);
        var mentor = TinyPretrainedFolders.WriteLlama(NewFolder("tiny-mentor"), tokenizer, vocab, hidden: 64, seed: 1);
        var student = TinyPretrainedFolders.WriteLlama(NewFolder("tiny-student"), tokenizer, vocab, hidden: 32, seed: 2, modelType: "qwen2");
        return (mentor, student);
    }

    /// <summary>The tiny run, shortened, with these folders as mentor and student, through the embedded platform.</summary>
    private static RunConfig ShortRun(string mentorFolder, string studentFolder)
    {
        var tiny = EmbeddedTestRuns.Tiny();
        var config = WithPretrained(tiny with
        {
            Name = "pretrained-tiny",
            Task = tiny.Task with { TrainQuestions = 160, DevQuestions = 20, TestQuestions = 20 },
            Teacher = tiny.Teacher with { AnnotatedQuestions = 80 },
            ContextLength = 128,
            Mentor = tiny.Mentor with { Training = tiny.Mentor.Training with { Epochs = 2, EvalMaxNewTokens = 40 } },
            Student = tiny.Student with { Training = tiny.Student.Training with { Epochs = 2, EvalMaxNewTokens = 40 } },
        }, mentorFolder, studentFolder);
        RunConfigValidator.Validate(config);
        return config;
    }

    private static RunConfig WithPretrained(RunConfig config, string? mentor, string? student) => config with
    {
        Tokenizer = null,
        Mentor = mentor is null ? config.Mentor : config.Mentor with { Pretrained = mentor, Layers = null, Heads = null, Embedding = null },
        Student = student is null ? config.Student : config.Student with { Pretrained = student, Layers = null, Heads = null, Embedding = null },
    };

    [Fact]
    public async Task A_config_with_pretrained_models_is_refused_naming_the_field_when_it_cannot_run()
    {
        var (mentor, student) = await FamilyAsync(merges: 40);
        var tiny = EmbeddedTestRuns.Tiny();
        RunConfigValidator.Validate(WithPretrained(tiny, mentor, student));
        RunConfigValidator.Validate(WithPretrained(tiny, null, student)); // a from-scratch mentor takes the student's tokenizer

        // Another vocabulary: same file names, same model family, different tokens.
        var otherTokenizer = NewFolder("other-tokenizer");
        int otherVocab = TinyPretrainedFolders.WriteTokenizer(otherTokenizer, await CoinFlipCorpusAsync(), merges: 41);
        var stranger = TinyPretrainedFolders.WriteLlama(NewFolder("stranger"), otherTokenizer, otherVocab, hidden: 32);
        var error = Assert.Throws<ConfigException>(() => RunConfigValidator.Validate(WithPretrained(tiny, mentor, stranger)));
        Assert.Equal("student.pretrained", error.Field);
        Assert.Contains("vocabulary differs from the mentor's", error.Message);

        void Refused(RunConfig config, string field, string words)
        {
            var refused = Assert.Throws<ConfigException>(() => RunConfigValidator.Validate(config));
            Assert.Equal(field, refused.Field);
            Assert.Contains(words, refused.Message);
        }
        var both = WithPretrained(tiny, mentor, student);
        Refused(both with { Mentor = both.Mentor with { Layers = 4 } }, "mentor.layers", "a pretrained model has its own shape");
        Refused(both with { Tokenizer = "word" }, "tokenizer", "brings its own tokenizer");
        Refused(tiny with { Tokenizer = "pretrained" }, "tokenizer", "neither mentor.pretrained nor student.pretrained");
        Refused(WithPretrained(tiny, "./no-such-model", null), "mentor.pretrained", "not found");

        var unknown = NewFolder("bert");
        Directory.CreateDirectory(unknown);
        File.WriteAllText(Path.Combine(unknown, "config.json"), """{"model_type": "bert", "hidden_size": 64}""");
        Refused(WithPretrained(tiny, unknown, null), "mentor.pretrained", "model_type 'bert' is not supported");
    }

    [Fact]
    public async Task A_run_whose_mentor_and_student_are_pretrained_llama_family_folders_completes_through_the_services_starting_from_their_weights()
    {
        var (mentorFolder, studentFolder) = await FamilyAsync();
        // The frozen models (the mentor serving samples and soft labels, checkpoints under evaluation) in bf16.
        var config = ShortRun(mentorFolder, studentFolder) with { FrozenDtype = "bfloat16" };

        await using var completed = await CompleteAsync(config);
        var (platform, run, root, events) = (completed.Platform, completed.Run, completed.Root, completed.Events);
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);

        // The folders were imported into the run's objects, and their tokenizer is the run's.
        var store = platform.Services.GetRequiredService<IObjectStore>();
        var stages = $"runs/{run.RunId}/stages/";
        var importedMentor = await ReadJsonAsync<Augmentation.Runs.PretrainedStage>(store, stages + "pretrained-mentor.json");
        Assert.Equal(($"runs/{run.RunId}/pretrained/mentor/", "llama", mentorFolder), (importedMentor.Key, importedMentor.ModelType, importedMentor.Source));
        var importedStudent = await ReadJsonAsync<Augmentation.Runs.PretrainedStage>(store, stages + "pretrained-student.json");
        Assert.Equal("qwen2", importedStudent.ModelType);
        var tokenizer = await ReadJsonAsync<Augmentation.Runs.TokenizerStage>(store, stages + "tokenizer.json");
        Assert.Equal("pretrained (hf-bpe)", tokenizer.Kind);
        Assert.Contains(events, e => e.Stage == "tokenizer" && e.Message.Contains("pretrained hf-bpe tokenizer"));

        // Each job started from its pretrained model and kept its family and shape.
        var work = Path.Combine(root, "check");
        await store.DownloadAsync(run.MentorCheckpointKey, Path.Combine(work, "mentor"));
        var mentorTraining = await ReadJsonAsync<Augmentation.Runs.TrainingStage>(store, stages + "training-mentor.json");
        Assert.Equal(importedMentor.Key, mentorTraining.StartedFrom);
        var teacher = await ReadJsonAsync<Augmentation.Runs.TeacherStage>(store, stages + "teacher.json");
        Assert.True(mentorTraining.Examples >= teacher.Kept * 0.9, $"{mentorTraining.Examples} of {teacher.Kept} kept rationales fit the context");
        using (var trained = ModelCheckpoints.LoadModel(Path.Combine(work, "mentor")))
        using (var pretrained = ModelCheckpoints.LoadModel(mentorFolder))
        {
            Assert.IsType<LlamaLanguageModel>(trained);
            Assert.Equal(pretrained.ParameterCount, trained.ParameterCount);
        }
        foreach (var arm in config.Arms)
        {
            var student = await ReadJsonAsync<Augmentation.Runs.TrainingStage>(store, stages + $"training-{arm}.json");
            Assert.Equal(importedStudent.Key, student.StartedFrom);
            await store.DownloadAsync(student.CheckpointKey, Path.Combine(work, arm));
            Assert.Equal("qwen2", ModelCheckpoints.ModelTypeOf(Path.Combine(work, arm)));
        }

        var served = await new Protos.V1.MentorServer.MentorServerClient(platform.Channel).GetModelInfoAsync(new GetModelInfoRequest());
        Assert.Equal((run.MentorCheckpointKey, "bfloat16"), (served.CheckpointKey, served.Dtype));

        // The Mentor-KD student learned from the mentor's soft labels over gRPC, and the report traces it all to the folders.
        var outcome = await ReadJsonAsync<TrainingOutcome>(store, $"runs/{run.RunId}/checkpoints/mentor_kd/outcome.json");
        Assert.All(outcome.History, h => Assert.NotNull(h.SoftTerm));
        var report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        var lineage = report.Lineage.ToDictionary(e => e.Name);
        Assert.Contains("pretrained:mentor", lineage["checkpoint:mentor"].DerivedFrom);
        Assert.Contains("pretrained:student", lineage["checkpoint:mentor_kd"].DerivedFrom);
        Assert.Equal(["pretrained:mentor", "pretrained:student"], lineage["tokenizer"].DerivedFrom.Order());
        Assert.Contains("students: pretrained tiny-student", report.Markdown);
    }

    [Fact]
    public async Task A_run_whose_mentor_and_student_are_pretrained_t5_folders_completes_through_the_services_with_soft_labels_over_the_decoder_positions()
    {
        var (mentorFolder, studentFolder) = await FamilyAsync(t5: true);
        var config = ShortRun(mentorFolder, studentFolder);
        Assert.Equal(SoftLabelSources.MentorServer, config.Student.SoftLabels); // the mentor-server serves an encoder-decoder's soft labels

        // A decoder-only mentor beside an encoder-decoder student is refused, even with the same tokenizer: their soft labels
        // cover different positions.
        var llamaMentor = TinyPretrainedFolders.WriteLlama(NewFolder("llama-with-spiece"), studentFolder,
            Modeling.Tokenization.TokenizerFiles.Load(studentFolder).VocabSize, hidden: 32);
        var mixed = Assert.Throws<ConfigException>(() => RunConfigValidator.Validate(WithPretrained(config, llamaMentor, studentFolder)));
        Assert.Equal("student.pretrained", mixed.Field);
        Assert.Contains("need both of one kind", mixed.Message);

        await using var completed = await CompleteAsync(config);
        var (platform, run, root, events) = (completed.Platform, completed.Run, completed.Root, completed.Events);
        var runs = new Protos.V1.Runs.RunsClient(platform.Channel);

        var store = platform.Services.GetRequiredService<IObjectStore>();
        var stages = $"runs/{run.RunId}/stages/";
        Assert.Equal("t5", (await ReadJsonAsync<Augmentation.Runs.PretrainedStage>(store, stages + "pretrained-mentor.json")).ModelType);
        Assert.Equal("pretrained (sentencepiece)", (await ReadJsonAsync<Augmentation.Runs.TokenizerStage>(store, stages + "tokenizer.json")).Kind);
        var work = Path.Combine(root, "check");
        foreach (var job in config.Arms.Prepend("mentor"))
        {
            var trained = await ReadJsonAsync<Augmentation.Runs.TrainingStage>(store, stages + $"training-{job}.json");
            Assert.True(trained.Examples > 50, $"{job}: {trained.Examples} examples");
            await store.DownloadAsync(trained.CheckpointKey, Path.Combine(work, job));
            Assert.Equal("t5", ModelCheckpoints.ModelTypeOf(Path.Combine(work, job)));
        }
        var outcome = await ReadJsonAsync<TrainingOutcome>(store, $"runs/{run.RunId}/checkpoints/mentor_kd/outcome.json");
        Assert.All(outcome.History, h => Assert.True(h.SoftTerm is > 0, $"epoch {h.Epoch}: soft term {h.SoftTerm}"));
        var report = await runs.GetReportAsync(new GetReportRequest { RunId = run.RunId });
        Assert.Equal(config.Arms.Count, report.Arms.Count);
        Assert.Contains("pretrained:student", report.Lineage.Single(e => e.Name == "checkpoint:mentor_kd").DerivedFrom);
    }

    /// <summary>A run through an embedded platform of its own, completed (the platform stays up until disposed).</summary>
    private sealed record CompletedRun(EmbeddedPlatform Platform, Run Run, string Root, List<RunEvent> Events) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Platform.DisposeAsync();
    }

    private static async Task<CompletedRun> CompleteAsync(RunConfig config)
    {
        var (root, events) = (EmbeddedTestRuns.NewDataRoot(), new List<RunEvent>());
        var platform = await EmbeddedTestRuns.StartAsync(root, config);
        var run = await RunSession.RunAsync(new Protos.V1.Runs.RunsClient(platform.Channel), Guid.NewGuid(), config, events.Add);
        Assert.True(run.Status == RunStatus.Completed, $"run ended {run.Status} in {run.FailedStage}: {run.Error}");
        return new CompletedRun(platform, run, root, events);
    }

    private static async Task<T> ReadJsonAsync<T>(IObjectStore store, string key)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer);
        return JsonSerializer.Deserialize<T>(buffer.ToArray(), JsonLines.Options)!;
    }
}
