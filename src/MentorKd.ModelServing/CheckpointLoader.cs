using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Runtime;
using MentorKd.Storage;
using static TorchSharp.torch;

namespace MentorKd.ModelServing;

/// <summary>Fetches a model folder from the object store into a local cache and loads it (call on the model's thread).</summary>
public sealed class CheckpointLoader(IObjectStore store, string cacheRoot)
{
    public async Task<string> FetchAsync(string checkpointKey, CancellationToken cancellationToken)
    {
        var prefix = ObjectKey.Folder(checkpointKey);
        var local = Path.Combine(cacheRoot, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(prefix))));
        var staging = local + $".{Guid.NewGuid():N}";
        var info = await store.DownloadAsync(prefix, staging, cancellationToken);
        if (Directory.Exists(local)) Directory.Delete(local, recursive: true);
        Directory.Move(staging, local);
        File.WriteAllText(Path.Combine(local, ".sha256"), info.Sha256);
        return local;
    }

    /// <summary>The folder's model; a folder that is not a loadable model throws <see cref="InvalidDataException"/> saying why,
    /// in terms of the checkpoint's key (not of this server's cache).</summary>
    public static ResidentModel Load(string localFolder, string checkpointKey, string dtype, string device)
    {
        LanguageModel model;
        Modeling.Tokenization.ITokenizer tokenizer;
        try
        {
            (model, tokenizer) = ModelCheckpoints.Load(localFolder, TorchRuntime.ResolveDevice(device), TorchRuntime.ResolveDType(dtype));
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException or NotSupportedException or ArgumentException)
        {
            throw new InvalidDataException($"'{checkpointKey}' is not a model folder this server can load: {e.Message.Replace(localFolder, checkpointKey.TrimEnd('/'))}", e);
        }
        var sha = File.Exists(Path.Combine(localFolder, ".sha256")) ? File.ReadAllText(Path.Combine(localFolder, ".sha256")) : "";
        return new ResidentModel(model, tokenizer, checkpointKey, sha, TorchRuntime.DTypeName(TorchRuntime.ResolveDType(dtype)), device);
    }
}
