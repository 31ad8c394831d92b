using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MentorKd.Distillation.Data;
using MentorKd.ServiceDefaults;
using MentorKd.Storage;

namespace MentorKd.Augmentation.Datasets;

/// <summary>
/// Datasets the augmentation service owns. The registry lives in the object store next to the data, so every
/// replica sees the same datasets and a restart loses nothing. Registering validates every row first.
/// </summary>
public sealed partial class DatasetRegistry(IObjectStore store)
{
    public const string RegistryPrefix = "datasets/registry/";
    public const string Questions = "questions", Rationales = "rationales";

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,127}$")] private static partial Regex DatasetId();

    public static void RequireId(string id, string field) =>
        RpcErrors.Require(DatasetId().IsMatch(id), field, $"'{id}' is not a dataset id ([a-z0-9._-], 1..128 characters, starting with a letter or digit).");

    /// <summary>A JSONL object a client names: it must exist and be no larger than <paramref name="maxBytes"/> (it is read whole).</summary>
    public async Task RequireReadableAsync(string key, string field, long maxBytes, CancellationToken cancellationToken)
    {
        var info = await store.StatAsync(key, cancellationToken);
        if (info is null) RpcErrors.NotFound($"{field}: no object at '{key}'.");
        RpcErrors.Require(info!.Size <= maxBytes, field, $"'{key}' is {info.Size:N0} bytes, more than this platform reads ({maxBytes:N0}, Limits:MaxDatasetBytes).");
    }

    /// <param name="allowEmpty">Derived datasets may be empty (a mentor that got nothing right); registrations by users may not.</param>
    public async Task<DatasetRecord> RegisterAsync(string id, string kind, string key, string? derivedFrom, string? producer, bool allowEmpty, CancellationToken cancellationToken)
    {
        var info = await store.StatAsync(key, cancellationToken);
        if (info is null) RpcErrors.NotFound($"key: no object at '{key}'.");
        var text = await ReadTextAsync(key, cancellationToken);
        IReadOnlyList<string> tasks;
        int rows;
        try
        {
            var lines = text.Split('\n');
            if (kind == Questions)
            {
                var questions = JsonLines.Parse<Question>(lines, key);
                if (QuestionIds.FirstRepeat(questions) is var (index, earlier))
                    throw new InvalidDataException($"{key}:{index + 1}: question id '{questions[index].Id}' is also line {earlier + 1}'s; ids must be unique.");
                (rows, tasks) = (questions.Count, questions.Select(q => q.Task).Distinct().Order().ToList());
            }
            else
            {
                var rationales = JsonLines.Parse<Rationale>(lines, key);
                (rows, tasks) = (rationales.Count, []);
            }
        }
        catch (InvalidDataException e)
        {
            RpcErrors.InvalidArgument("key", $"'{key}' is not a JSONL of {kind} ({e.Message}).");
            throw;
        }
        RpcErrors.Require(rows > 0 || allowEmpty, "key", $"'{key}' holds no rows.");
        var record = new DatasetRecord(id, kind, key, info.Sha256, info.Size, rows, tasks, derivedFrom, producer);
        using var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(record, JsonLines.Options));
        await store.PutAsync(RegistryPrefix + id + ".json", json, cancellationToken);
        return record;
    }

    public async Task<DatasetRecord?> FindAsync(string id, CancellationToken cancellationToken)
    {
        var key = RegistryPrefix + id + ".json";
        if (await store.StatAsync(key, cancellationToken) is null) return null;
        return JsonSerializer.Deserialize<DatasetRecord>(await ReadTextAsync(key, cancellationToken), JsonLines.Options);
    }

    public Task<IReadOnlyList<T>> ReadRowsAsync<T>(DatasetRecord dataset, CancellationToken cancellationToken) => ReadRowsAsync<T>(dataset.Key, cancellationToken);

    public async Task<IReadOnlyList<T>> ReadRowsAsync<T>(string key, CancellationToken cancellationToken) =>
        JsonLines.Parse<T>((await ReadTextAsync(key, cancellationToken)).Split('\n'), key);

    public async Task<ObjectInfo> WriteRowsAsync<T>(string key, IEnumerable<T> rows, CancellationToken cancellationToken)
    {
        var text = string.Concat(rows.Select(r => JsonSerializer.Serialize(r, JsonLines.Options) + "\n"));
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
        return await store.PutAsync(key, stream, cancellationToken);
    }

    private async Task<string> ReadTextAsync(string key, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer, cancellationToken);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
