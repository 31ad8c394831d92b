namespace MentorKd.TeacherGateway;

/// <summary>Running totals of what the gateway's teachers were asked for and what it cost (thread-safe).</summary>
public sealed class TeacherUsage
{
    private long _requests, _questions, _rationales, _promptTokens, _completionTokens, _cacheHits, _problems;

    /// <summary>A question answered with its rationales.</summary>
    public void RecordQuestion(int rationales)
    {
        Interlocked.Increment(ref _questions);
        Interlocked.Add(ref _rationales, rationales);
    }

    /// <summary>A paid call, with the API's own token counts.</summary>
    public void RecordCall(long promptTokens, long completionTokens)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _promptTokens, promptTokens);
        Interlocked.Add(ref _completionTokens, completionTokens);
    }

    /// <summary>A call answered from the ledger (not paid again).</summary>
    public void RecordCacheHit() => Interlocked.Increment(ref _cacheHits);

    /// <summary>A reply kept as a problem (empty, refused, no answer).</summary>
    public void RecordProblem() => Interlocked.Increment(ref _problems);

    /// <summary>An offline teacher's question: one request, whitespace words standing in for tokens (it has no tokenizer).</summary>
    public void RecordOffline(string prompt, IEnumerable<string> completions) => RecordCall(Words(prompt), completions.Sum(Words));

    public UsageTotals Snapshot() => new(Interlocked.Read(ref _requests), Interlocked.Read(ref _questions), Interlocked.Read(ref _rationales),
        Interlocked.Read(ref _promptTokens), Interlocked.Read(ref _completionTokens), Interlocked.Read(ref _cacheHits), Interlocked.Read(ref _problems));

    private static long Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
}

public sealed record UsageTotals(long Requests, long Questions, long Rationales, long PromptTokens, long CompletionTokens, long CacheHits, long Problems);
