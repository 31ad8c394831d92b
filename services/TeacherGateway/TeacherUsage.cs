namespace MentorKd.TeacherGateway;

/// <summary>Running totals of what the teacher was asked for (thread-safe).</summary>
public sealed class TeacherUsage
{
    private long _requests, _questions, _rationales, _promptTokens, _completionTokens;

    public void Record(int questions, IEnumerable<string> prompts, IEnumerable<string> completions)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _questions, questions);
        foreach (var prompt in prompts) Interlocked.Add(ref _promptTokens, Words(prompt));
        foreach (var completion in completions)
        {
            Interlocked.Increment(ref _rationales);
            Interlocked.Add(ref _completionTokens, Words(completion));
        }
    }

    public (long Requests, long Questions, long Rationales, long PromptTokens, long CompletionTokens) Snapshot() =>
        (Interlocked.Read(ref _requests), Interlocked.Read(ref _questions), Interlocked.Read(ref _rationales), Interlocked.Read(ref _promptTokens), Interlocked.Read(ref _completionTokens));

    // Offline teachers have no tokenizer of their own: whitespace words stand in for tokens.
    private static long Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
}
