using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MentorKd.Distillation.Data;
using MentorKd.Storage;

namespace MentorKd.TeacherGateway.OpenAi;

/// <summary>One request to a teacher API, as it decides the reply: the same call is never paid for twice.
/// <paramref name="Choices"/> is the request's <c>n</c>; <paramref name="Sample"/> tells apart the separate calls of a
/// question's samples when they are asked one at a time.</summary>
public sealed record TeacherCall(string BaseUrl, string Model, string Api, string Prompt, double Temperature, double TopP, int MaxTokens,
    IReadOnlyList<string> Stop, long? Seed, int? TopLogprobs, int Choices, int Sample);

/// <summary>What the API answered, with its own token counts.</summary>
public sealed record TeacherCallReply(IReadOnlyList<TeacherChoice> Choices, int PromptTokens, int CompletionTokens, DateTimeOffset AnsweredAt);

/// <summary>One of a reply's choices and, when asked, each generated token's log-probability.</summary>
public sealed record TeacherChoice(string Text, string? FinishReason, IReadOnlyList<TokenLogprob>? Logprobs);

/// <summary>
/// Every teacher call and its reply, stored content-addressed in the object store (<c>teacher-ledger/{sha256 of the
/// call}.json</c>) before the reply is used. A restarted run, a retried stage or another run asking the same thing
/// reads the stored reply instead of calling again. Writes are whole objects, so a crash leaves a call recorded or not.
/// </summary>
public sealed class TeacherCallLedger(IObjectStore store)
{
    public const string Prefix = "teacher-ledger/";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private sealed record Entry(TeacherCall Call, TeacherCallReply Reply);

    public static string KeyOf(TeacherCall call)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(call, Json)));
        return $"{Prefix}{hash[..2]}/{hash}.json";
    }

    public async Task<TeacherCallReply?> FindAsync(TeacherCall call, CancellationToken cancellationToken)
    {
        var key = KeyOf(call);
        if (await store.StatAsync(key, cancellationToken) is null) return null;
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer, cancellationToken);
        var entry = JsonSerializer.Deserialize<Entry>(buffer.ToArray(), Json);
        // A hash collision or a hand-edited object must not answer a different call.
        return entry is not null && CallsMatch(entry.Call, call) ? entry.Reply : null;
    }

    public async Task SaveAsync(TeacherCall call, TeacherCallReply reply, CancellationToken cancellationToken)
    {
        using var content = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(new Entry(call, reply), Json));
        await store.PutAsync(KeyOf(call), content, cancellationToken);
    }

    private static bool CallsMatch(TeacherCall a, TeacherCall b) =>
        JsonSerializer.Serialize(a, Json) == JsonSerializer.Serialize(b, Json);
}
