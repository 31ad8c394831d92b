using MentorKd.Distillation.Pipeline;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Tokenization;
using MentorKd.Storage;
using Microsoft.Extensions.Options;

namespace MentorKd.Augmentation.Runs;

/// <summary>
/// A run's pretrained mentor and student, made reachable by every trainer: a folder on this host is imported into the
/// run's objects (only the files a model folder is made of), a key must already hold a model folder. Their tokenizer is
/// the run's, and the two must share a vocabulary. Each import is recorded, so a restarted run does not import again.
/// </summary>
public sealed class PretrainedModels(IObjectStore store, IOptions<AugmentationOptions> options, ILogger<PretrainedModels> logger)
{
    public const string Mentor = "mentor", Student = "student";

    public static string StageName(string role) => $"pretrained-{role}";

    /// <summary>The run's pretrained models as (role, the config's folder or key).</summary>
    public static IEnumerable<(string Role, string Source)> Of(RunConfig config)
    {
        if (config.PretrainedMentor is { } mentor) yield return (Mentor, mentor);
        if (config.Student.Pretrained is { } student) yield return (Student, student);
    }

    /// <summary>Imports (or finds) each pretrained model and returns the tokenizer they bring.</summary>
    public async Task<ITokenizer> PrepareAsync(RunKeys keys, RunConfig config, RunStageRecords records, CancellationToken cancellationToken)
    {
        var tokenizerFolders = new Dictionary<string, string>();
        var modelTypes = new Dictionary<string, string>();
        foreach (var (role, source) in Of(config))
        {
            var stage = await records.FindAsync<PretrainedStage>(StageName(role), cancellationToken);
            if (stage is null)
            {
                stage = await ImportAsync(keys, role, source, cancellationToken);
                await records.SaveAsync(StageName(role), stage, cancellationToken);
                logger.LogInformation("Run {Run}: pretrained {Role} {Source} ({ModelType}, {Bytes} bytes) at {Key}", keys.Id, role, source, stage.ModelType, stage.Bytes, stage.Key);
            }
            var folder = Scratch(keys, $"pretrained-tokenizer-{role}");
            await store.DownloadAsync(stage.Key, folder, cancellationToken, ModelCheckpoints.IsTokenizerFile);
            tokenizerFolders[role] = folder;
            modelTypes[role] = stage.ModelType;
        }
        RunTokenizer.RequireOneKind(config, modelTypes.GetValueOrDefault(Mentor), modelTypes.GetValueOrDefault(Student));
        return RunTokenizer.FromPretrained(tokenizerFolders.GetValueOrDefault(Mentor), tokenizerFolders.GetValueOrDefault(Student));
    }

    /// <summary>The key a role's training jobs start from, once <see cref="PrepareAsync"/> has recorded it.</summary>
    public async Task<string> KeyAsync(RunStageRecords records, string role, CancellationToken cancellationToken) =>
        (await records.FindAsync<PretrainedStage>(StageName(role), cancellationToken))?.Key
        ?? throw new InvalidOperationException($"the pretrained {role} has no record (the tokenizer stage imports it).");

    private async Task<PretrainedStage> ImportAsync(RunKeys keys, string role, string source, CancellationToken cancellationToken)
    {
        var field = $"{role}.pretrained";
        if (Path.IsPathRooted(source))
        {
            // Checked again here, file by file, where the files are read: a link placed since the run was submitted leads nowhere new.
            var roots = options.Value.Limits.DataRoots;
            if (!RunLimits.IsUnder(source, roots)) throw new ConfigException(field, $"'{source}' is outside this platform's data roots (Limits:DataRoots).");
            if (!Directory.Exists(source)) throw new ConfigException(field, $"folder '{source}' not found on the host that runs the run.");
            var outside = Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories)
                .Where(file => ModelCheckpoints.IsModelFile(Path.GetRelativePath(source, file).Replace(Path.DirectorySeparatorChar, '/')))
                .FirstOrDefault(file => !RunLimits.IsUnder(file, roots));
            if (outside is not null) throw new ConfigException(field, $"'{outside}' leads outside this platform's data roots (Limits:DataRoots).");
            var modelType = SupportedModelType(source, field);
            var uploaded = await store.UploadAsync(source, keys.Pretrained(role), cancellationToken, ModelCheckpoints.IsModelFile);
            return new PretrainedStage(role, source, uploaded.Key, modelType, uploaded.Sha256, uploaded.Size);
        }

        string key;
        try { key = ObjectKey.Folder(source); }
        catch (ArgumentException e) { throw new ConfigException(field, $"'{source}' is not a folder here nor an object-store key ({e.Message})."); }
        var config = Scratch(keys, $"pretrained-config-{role}");
        try { await store.DownloadAsync(key, config, cancellationToken, path => path == GptCheckpoint.ConfigFile); }
        catch (ObjectNotFoundException)
        {
            throw new ConfigException(field, $"'{source}' is neither a folder on the host that runs the run nor a model folder in the object store (no {key}{GptCheckpoint.ConfigFile}).");
        }
        var type = SupportedModelType(config, field);
        var stored = await store.StatFolderAsync(key, cancellationToken, ModelCheckpoints.IsModelFile);
        return new PretrainedStage(role, source, key, type, stored.Sha256, stored.Size);
    }

    private static string SupportedModelType(string folder, string field)
    {
        try { return ModelCheckpoints.SupportedModelTypeOf(folder); }
        catch (CheckpointException e) { throw new ConfigException(field, e.Message); }
    }

    private string Scratch(RunKeys keys, string name)
    {
        var folder = Path.Combine(options.Value.WorkRoot, keys.Id, name);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(folder);
        return folder;
    }
}
