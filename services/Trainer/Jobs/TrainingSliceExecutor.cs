using System.Text.Json;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Runtime;
using MentorKd.Modeling.Tokenization;
using MentorKd.Modeling.Training;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Security;
using MentorKd.Storage;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using TorchSharp;
using static TorchSharp.torch;
using Question = MentorKd.Distillation.Data.Question;
using Rationale = MentorKd.Distillation.Data.Rationale;

namespace MentorKd.Trainer.Jobs;

/// <summary>
/// Trains one slice of a job on the calling (dedicated) thread: fetch its data, tokenizer and latest checkpoint
/// folder from the object store into a scratch workspace, build the model, and train epoch by epoch. After each
/// epoch the checkpoint folder goes back to the store (the job's next workspace slot, then job.json names it), so
/// any replica can continue from there; once the slice has used its time the job pauses at that epoch. The slice
/// that finishes the job uploads the best checkpoint under the job's output key.
/// </summary>
public sealed class TrainingSliceExecutor
{
    private readonly IObjectStore _store;
    private readonly TrainingJobLedger _ledger;
    private readonly TrainerOptions _options;
    private readonly string? _serviceKey;
    private readonly ILogger<TrainingSliceExecutor> _logger;

    private readonly TrainingThreadShare _threads;

    public TrainingSliceExecutor(IObjectStore store, TrainingJobLedger ledger, TrainingThreadShare threads, TrainerOptions options, IOptions<AuthOptions> auth,
        ILogger<TrainingSliceExecutor> logger)
    {
        (_store, _ledger, _threads, _options, _logger) = (store, ledger, threads, options, logger);
        _serviceKey = ApiKeyDirectory.ServiceKey(auth.Value);
    }

    /// <summary>True when the job finished; false when it paused with its checkpoint stored.</summary>
    public bool Run(TrainingJobRecord job, TrainingJobLedger.Entry entry, DateTime sliceEnds)
    {
        var request = job.Request;
        var token = job.Cancellation.Token;
        using var trainingHere = _threads.Enter();
        // The store holds the job's state; nothing a previous slice left on this disk is trusted.
        var workspace = Path.Combine(_options.WorkRoot, job.JobId);
        if (Directory.Exists(workspace)) Directory.Delete(workspace, recursive: true);
        Directory.CreateDirectory(workspace);
        var checkpoints = Path.Combine(workspace, "checkpoints");
        if (entry.Slot is not null) Wait(_store.DownloadAsync(TrainingJobLedger.Workspace(job.JobId, entry.Slot), checkpoints, token));
        var device = TorchRuntime.ResolveDevice(_options.Device);

        var train = ReadJsonl<Question>(request.TrainQuestionsKey, workspace, token);
        var dev = request.DevQuestionsKey.Length > 0 ? ReadJsonl<Question>(request.DevQuestionsKey, workspace, token) : [];
        var test = request.TestQuestionsKey.Length > 0 ? ReadJsonl<Question>(request.TestQuestionsKey, workspace, token) : [];
        var rationales = request.RationaleKeys.SelectMany(k => ReadJsonl<Rationale>(k, workspace, token)).ToList();
        var tokenizerFolder = Path.Combine(workspace, "tokenizer");
        Wait(_store.DownloadAsync(request.TokenizerKey, tokenizerFolder, token));
        var tokenizer = TokenizerFiles.Load(tokenizerFolder);

        var questions = train.Concat(dev).Concat(test).GroupBy(q => q.Id).ToDictionary(g => g.Key, g => g.First());
        var (examples, tooLong) = DistillationExamples.Build(rationales.Where(r => questions.ContainsKey(r.QuestionId)), questions, tokenizer, request.Model.ContextLength);
        _logger.LogInformation("Job {Job}: {Examples} examples ({TooLong} too long), {Role}, {Start}", job.JobId, examples.Count, tooLong, request.Role,
            entry.Slot is null ? "from the start" : $"resuming after epoch {entry.Job.Progress.Epoch} (slot {entry.Slot})");

        var training = request.Training.ToOptions();
        using var model = BuildModel(request, entry.Slot is not null ? Path.Combine(checkpoints, "last") : null, tokenizer, training.Seed, workspace, token);
        if (device.type != DeviceType.CPU) model.to(device);
        job.Update(j => (j.Examples, j.Parameters) = (examples.Count, model.ParameterCount));

        using var mentor = LoadInProcessMentor(request.SoftLabels, workspace, token);
        if (mentor is not null && mentor.VocabSize != model.VocabSize)
            throw new InvalidDataException($"soft_labels.mentor_checkpoint_key: the mentor scores {mentor.VocabSize} token ids and the student {model.VocabSize}: " +
                "soft labels need one vocabulary.");
        // Soft labels are per decoder position: an encoder-decoder's positions are the target's, a decoder-only model's the whole sequence's.
        if (mentor is not null && mentor.IsEncoderDecoder != model.IsEncoderDecoder)
            throw new InvalidDataException($"soft_labels.mentor_checkpoint_key: the mentor is {Kind(mentor)} and the student {Kind(model)}: soft labels need both of one kind.");
        using var channel = request.SoftLabels.MentorServerAddress.Length > 0 && request.SoftLabels.Kind is SoftLabelSourceKind.MentorServer or SoftLabelSourceKind.Stored
            ? MentorServerChannel(request.SoftLabels.MentorServerAddress)
            : null;
        MentorServerSoftLabels MentorServer(int topK, bool prefetch) => new(new Protos.V1.MentorServer.MentorServerClient(channel), topK, training.Temperature,
            model.VocabSize, training.KdMask, TimeSpan.FromSeconds(_options.SoftLabelCallSeconds), prefetch: prefetch, cancellationToken: token);
        // A frozen in-process mentor's soft labels are cached per sequence (exact with the clean mask).
        ISoftLabelSource? inProcess = mentor is null ? null : new InProcessMentorSoftLabels(mentor, "in-process mentor");
        using var cached = inProcess is not null && training.KdMask == KnowledgeDistillationMask.Clean ? new CachedSoftLabels(inProcess) : null;
        ISoftLabelSource? softLabels = request.SoftLabels.Kind switch
        {
            SoftLabelSourceKind.MentorServer => MentorServer(request.SoftLabels.TopK is 0 ? 32 : request.SoftLabels.TopK, prefetch: _options.PrefetchSoftLabels),
            SoftLabelSourceKind.Stored => OpenStore(request, examples, tokenizer, training, model.IsEncoderDecoder,
                () => MentorServer(request.SoftLabels.TopK is 0 ? 16 : request.SoftLabels.TopK, prefetch: false), workspace, token),
            _ => (ISoftLabelSource?)cached ?? inProcess,
        };

        var trainer = new ReasoningModelTrainer(training, tokenizer, dev, test);
        _threads.TakeShare();
        var progressClock = new ReportingInterval(TimeSpan.FromMilliseconds(_options.ProgressIntervalMilliseconds));
        var slot = entry.Slot;
        var outcome = trainer.Train(job.JobId, model, examples, softLabels, checkpoints,
            progress: p =>
            {
                // Every update wakes the job's watchers (gRPC streams, progress events); on a small machine doing that
                // per step takes CPU from the training threads, so steps are reported a few times a second at most.
                if (p.Phase == "train" && p.Step < p.TotalSteps && !progressClock.Due()) return;
                job.Update(j =>
                {
                    j.State = JobState.Running;
                    j.Progress = new TrainingProgress
                    {
                        JobId = job.JobId, Epoch = p.Epoch, Epochs = p.Epochs, Step = p.Step, TotalSteps = p.TotalSteps, Loss = p.Loss,
                        TokensPerSecond = p.TokensPerSecond, DevAccuracy = j.Progress?.DevAccuracy ?? 0,
                    };
                });
            },
            onEpoch: record =>
            {
                job.Update(j => j.Progress.DevAccuracy = record.DevAccuracy);
                _threads.TakeShare();
            },
            cancellationToken: token,
            afterCheckpoint: epoch =>
            {
                var next = slot == "a" ? "b" : "a";
                Wait(_store.UploadAsync(checkpoints, TrainingJobLedger.Workspace(job.JobId, next), token));
                slot = next;
                Wait(_ledger.SaveAsync(new TrainingJobLedger.Entry(job.Snapshot, slot), token));
                return DateTime.UtcNow < sliceEnds;
            });
        if (outcome.Paused)
        {
            _logger.LogInformation("Job {Job}: slice ends after step {Step}; checkpoint in slot {Slot}", job.JobId, outcome.Steps, slot);
            job.Update(j => j.State = JobState.Queued);
            Wait(_ledger.SaveAsync(new TrainingJobLedger.Entry(job.Snapshot, slot), token));
            return false;
        }

        var best = Wait(_store.UploadAsync(Path.Combine(checkpoints, "best"), ObjectKey.Combine(request.OutputKey, "best"), token));
        // The per-epoch history travels as a stored object, so the run's report can draw learning curves.
        using var history = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(outcome, RunConfig.Json));
        var outcomeInfo = Wait(_store.PutAsync(ObjectKey.Combine(request.OutputKey, "outcome.json"), history, token));
        var selected = outcome.DevSelected;
        job.Update(j =>
        {
            j.State = JobState.Completed;
            j.BestCheckpoint = new ObjectRef { Key = best.Key, Sha256 = best.Sha256, SizeBytes = best.Size };
            j.Outcome = new ObjectRef { Key = outcomeInfo.Key, Sha256 = outcomeInfo.Sha256, SizeBytes = outcomeInfo.Size };
            j.DevAccuracy = selected.DevAccuracy;
            j.TestAccuracy = selected.TestAccuracy;
            j.SelectedEpoch = selected.Epoch;
        });
        Wait(_ledger.SaveAsync(new TrainingJobLedger.Entry(job.Snapshot, slot), token));
        Directory.Delete(workspace, recursive: true);
        return true;
    }

    /// <summary>
    /// The model a slice trains, in fp32 (the master weights). A resumed slice: its own last checkpoint. Otherwise, with
    /// an init checkpoint (a pretrained model, or the student a round continues from): that model, whose shape the
    /// request either leaves unset or must match. Otherwise a fresh GPT-2-style model of the request's shape.
    /// </summary>
    private LanguageModel BuildModel(StartTrainingJobRequest request, string? resumeFrom, ITokenizer tokenizer, int seed, string workspace, CancellationToken token)
    {
        if (resumeFrom is not null && TrainingCheckpoint.ExistsIn(resumeFrom)) return ModelCheckpoints.LoadModel(resumeFrom);
        var shape = request.Model;
        if (request.InitCheckpointKey.Length == 0)
        {
            using var initialization = new Generator((ulong)seed);
            return new GptLanguageModel(GptConfig.Small(tokenizer.VocabSize, shape.Layers, shape.Heads, shape.Embedding, shape.ContextLength, 0, tokenizer.EndOfTextId),
                initialization);
        }

        var key = request.InitCheckpointKey;
        var folder = Path.Combine(workspace, "init");
        Wait(_store.DownloadAsync(key, folder, token));
        var model = ModelCheckpoints.LoadModel(folder);
        try
        {
            if (shape.Layers > 0)
            {
                var wanted = GptConfig.Small(tokenizer.VocabSize, shape.Layers, shape.Heads, shape.Embedding, shape.ContextLength, 0, tokenizer.EndOfTextId);
                if (model is not GptLanguageModel { Config: var saved } ||
                    (saved.VocabSize, saved.ContextLength, saved.LayerCount, saved.HeadCount, saved.EmbeddingSize, saved.InnerSize) !=
                    (wanted.VocabSize, wanted.ContextLength, wanted.LayerCount, wanted.HeadCount, wanted.EmbeddingSize, wanted.InnerSize))
                    throw new InvalidDataException($"init_checkpoint_key: '{key}' holds a {Describe(model)} model; the job trains a {Describe(wanted)} one " +
                        "(leave model.layers, heads and embedding at 0 to train the checkpoint's own shape).");
            }
            if (tokenizer.VocabSize > model.VocabSize)
                throw new InvalidDataException($"init_checkpoint_key: '{key}' scores {model.VocabSize} token ids, fewer than the tokenizer's {tokenizer.VocabSize}.");
            if (shape.ContextLength > model.ContextLength)
                throw new InvalidDataException($"model.context_length: {shape.ContextLength} is longer than the context of '{key}' ({model.ContextLength} tokens).");
            _logger.LogInformation("Starting from the weights of {Checkpoint} ({Model})", key, Describe(model));
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }

        static string Describe(object model) => model switch
        {
            GptLanguageModel gpt => Describe(gpt.Config),
            GptConfig c => $"{c.LayerCount}-layer, {c.HeadCount}-head, {c.EmbeddingSize}-wide, {c.ContextLength}-token, {c.VocabSize}-word GPT-2",
            LanguageModel m => $"{m.ParameterCount:N0}-parameter, {m.VocabSize}-word {ModelCheckpoints.ModelTypeOf(m)}",
            _ => model.ToString() ?? "",
        };
    }

    /// <summary>A channel to the job's mentor-server, carrying the platform's key only to one the operator listed.</summary>
    private GrpcChannel MentorServerChannel(string address)
    {
        var target = new Uri(address);
        bool trusted = _serviceKey is not null && _options.MentorServerAddresses.Any(listed => Uri.TryCreate(listed, UriKind.Absolute, out var uri) && uri == target);
        if (_serviceKey is not null && !trusted)
            _logger.LogWarning("Mentor-server {Address} is not in Trainer:MentorServerAddresses: called without the platform's key", address);
        return KeyedChannel.ForAddress(address, trusted ? _serviceKey : null);
    }

    private LanguageModel? LoadInProcessMentor(SoftLabelSource source, string workspace, CancellationToken token)
    {
        if (source.Kind != SoftLabelSourceKind.InProcess) return null;
        var folder = Path.Combine(workspace, "mentor");
        Wait(_store.DownloadAsync(source.MentorCheckpointKey, folder, token));
        return ModelCheckpoints.LoadModel(folder, TorchRuntime.ResolveDevice(_options.Device), TorchRuntime.ResolveDType(source.MentorDtype, "soft_labels.mentor_dtype"));
    }

    /// <summary>
    /// The job's sparse soft-label store: read from the object store, or, when the key holds none yet, computed through the
    /// mentor-server for the job's sequences and put there first (a job resumed later, or another with the same
    /// sequences, reads it). Checked against the student's tokenizer and training setting before training starts.
    /// </summary>
    private StoredSoftLabels OpenStore(StartTrainingJobRequest request, IReadOnlyList<LanguageModelExample> examples, ITokenizer tokenizer,
        ReasoningTrainingOptions training, bool encoderDecoder, Func<MentorServerSoftLabels> mentorServer, string workspace, CancellationToken token)
    {
        const string field = "soft_labels.stored_key";
        StoredSoftLabels.CheckSetting(training, encoderDecoder, field);
        var key = request.SoftLabels.StoredKey;
        var path = Path.Combine(workspace, "soft-labels.safetensors");
        if (Wait(_store.StatAsync(key, token)) is not null)
        {
            using var file = File.Create(path);
            Wait(_store.GetAsync(key, file, token));
        }
        else
        {
            if (request.SoftLabels.MentorServerAddress.Length == 0)
                throw new InvalidDataException($"{field}: '{key}' holds no store, and without soft_labels.mentor_server_address none can be written.");
            var written = Wait(SoftLabelStoreBuilder.WriteAsync(mentorServer(), examples, tokenizer, training.Temperature,
                request.SoftLabels.MentorCheckpointKey, request.SoftLabels.MentorDtype, path, token));
            using (var file = File.OpenRead(path)) Wait(_store.PutAsync(key, file, token));
            _logger.LogInformation("Soft-label store {Key}: {Sequences} sequences, {Positions} scored tokens, {Bytes:N0} bytes ({PerToken:0.0} per token), written in {Seconds:0.0} s",
                key, written.Sequences, written.Positions, written.Bytes, (double)written.Bytes / written.Positions, written.Elapsed.TotalSeconds);
        }
        SparseSoftLabelStore store;
        try { store = SparseSoftLabelStore.Read(path); }
        catch (Exception e) when (e is InvalidDataException or SafetensorsFormatException) { throw new InvalidDataException($"{field}: '{key}': {e.Message}", e); }
        if (request.SoftLabels.MentorCheckpointKey.Length > 0 && store.Info.Mentor != request.SoftLabels.MentorCheckpointKey)
            throw new InvalidDataException($"{field}: '{key}' holds the soft labels of mentor '{store.Info.Mentor}', not of soft_labels.mentor_checkpoint_key '{request.SoftLabels.MentorCheckpointKey}'.");
        var source = StoredSoftLabels.For(store, tokenizer, training, encoderDecoder, field);
        source.CheckCovers(examples, field);
        return source;
    }

    private IReadOnlyList<T> ReadJsonl<T>(string key, string workspace, CancellationToken token)
    {
        var path = Path.Combine(workspace, "data", key.Replace('/', '_'));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var file = File.Create(path)) Wait(_store.GetAsync(key, file, token));
        return JsonLines.Read<T>(path);
    }

    private static string Kind(LanguageModel model) => model.IsEncoderDecoder ? "an encoder-decoder" : "decoder-only";

    // The job runs on its own thread, outside any dispose scope, so blocking on storage I/O here is safe.
    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();
    private static void Wait(Task task) => task.GetAwaiter().GetResult();
}
