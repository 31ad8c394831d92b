using System.ComponentModel.DataAnnotations;

namespace MentorKd.Distillation.Teachers;

/// <summary>
/// An LLM teacher behind an OpenAI-compatible API (OpenAI, vLLM, Ollama, llama.cpp, a gateway, or a mentor-server here):
/// "TeacherGateway:Teachers:{name}" in a gateway's configuration, or the <c>teacher</c> section of an embedded run's
/// config. The API key comes only from the environment variable or secret file named here, never from a run, a report
/// or a log.
/// </summary>
public record OpenAiTeacherOptions
{
    /// <summary>The API's base address, up to and including its version ("https://api.openai.com/v1", "http://localhost:11434/v1").</summary>
    [Required, Url] public string BaseUrl { get; init; } = "";
    [Required] public string Model { get; init; } = "";
    /// <summary>Environment variable holding the key (servers that take none need neither this nor a file).</summary>
    public string? ApiKeyEnv { get; init; }
    /// <summary>File holding the key (a mounted secret).</summary>
    public string? ApiKeyFile { get; init; }
    /// <summary>"chat" (/chat/completions: the prompt is the user message) or "completions" (the legacy /completions).</summary>
    [RegularExpression("^(chat|completions)$", ErrorMessage = "Api must be chat or completions.")]
    public string Api { get; init; } = "chat";
    /// <summary>A template shipped in the gateway's Prompts/ (by name, without .txt) or a file path; "{question}" marks the question.</summary>
    [Required] public string Prompt { get; init; } = "zero-shot-cot";
    /// <summary>Templates for particular tasks (task name → template, e.g. "coin_flip": "few-shot-coin-flip"); other tasks use <see cref="Prompt"/>.</summary>
    public Dictionary<string, string> PromptsByTask { get; init; } = new();
    [Range(0.0, 2.0)] public double Temperature { get; init; } = 0.7;
    [Range(0.0, 1.0)] public double TopP { get; init; } = 1.0;
    [Range(1, 131_072)] public int MaxTokens { get; init; } = 512;
    public string[] Stop { get; init; } = [];
    /// <summary>Base seed; sample i of a question asks with seed + i (endpoints that honour seeds then repeat themselves).</summary>
    public long? Seed { get; init; }
    /// <summary>Alternatives per token to record with each rationale's log-probabilities (null: none asked).</summary>
    [Range(0, 20)] public int? TopLogprobs { get; init; }
    /// <summary>Templates asking for a harder variation of a problem, and for a similar problem (FDD); "{question}" and
    /// "{answer}" mark the original.</summary>
    [Required] public string HarderPrompt { get; init; } = "synthesize-harder";
    [Required] public string SimilarPrompt { get; init; } = "synthesize-similar";
    /// <summary>Independent solutions that must agree on the answer before a written problem is accepted (self-consistency).</summary>
    [Range(1, 16)] public int VerificationSamples { get; init; } = 3;
    /// <summary>Ask for a question's k samples in one call (<c>n = k</c>); for endpoints without <c>n</c>, leave false: one call per sample.</summary>
    public bool SamplesInOneCall { get; init; }

    // Resilience: the gateway's HTTP pipeline for this teacher (Microsoft.Extensions.Http.Resilience), per teacher.
    /// <summary>How long one attempt may take before it is abandoned and retried.</summary>
    [Range(1, 3_600)] public int TimeoutSeconds { get; init; } = 120;
    /// <summary>Retries of a call after 429, 5xx, a timeout or a dropped connection (exponential backoff with jitter; Retry-After honoured).</summary>
    [Range(0, 20)] public int MaxRetries { get; init; } = 5;
    /// <summary>How long calls keep being retried while the endpoint is away (connection refused, 502/503/504, the circuit
    /// open) before they count as failed: an outage shorter than this delays an annotation without losing a question.</summary>
    [Range(0, 86_400)] public int OutageSeconds { get; init; } = 300;
    /// <summary>Calls in flight at once to this teacher from one annotation.</summary>
    [Range(1, 256)] public int MaxConcurrentCalls { get; init; } = 4;
    /// <summary>Requests per minute this teacher may be sent from this gateway (null: no limit of ours).</summary>
    [Range(1, 1_000_000)] public int? RequestsPerMinute { get; init; }
    /// <summary>Tokens per minute (prompt estimate + max tokens per call; null: no limit of ours).</summary>
    [Range(1, 100_000_000)] public int? TokensPerMinute { get; init; }
    /// <summary>After most calls in a 30 s window fail, calls stop for this long (the circuit is open) instead of piling on.</summary>
    [Range(1, 3_600)] public int CircuitBreakSeconds { get; init; } = 30;

    // The price table: what the API charges, for the cost in usage and reports (0: free or unknown).
    [Range(0.0, 1_000_000.0)] public double PromptPricePerMillionTokens { get; init; }
    [Range(0.0, 1_000_000.0)] public double CompletionPricePerMillionTokens { get; init; }

    public double CostOf(long promptTokens, long completionTokens) =>
        (promptTokens * PromptPricePerMillionTokens + completionTokens * CompletionPricePerMillionTokens) / 1_000_000;
}
