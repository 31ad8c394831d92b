using System.ComponentModel.DataAnnotations;

namespace MentorKd.TeacherGateway.OpenAi;

/// <summary>
/// An LLM teacher behind an OpenAI-compatible API (OpenAI, vLLM, Ollama, llama.cpp, a gateway, or a mentor-server
/// here): "TeacherGateway:Teachers:{name}" with Kind "openai". The API key comes only from the environment variable
/// or secret file named here, never from a run, a report or a log.
/// </summary>
public sealed record OpenAiTeacherOptions
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
    /// <summary>A template shipped in Prompts/ (by name, without .txt) or a file path; "{question}" marks the question.</summary>
    [Required] public string Prompt { get; init; } = "zero-shot-cot";
    [Range(0.0, 2.0)] public double Temperature { get; init; } = 0.7;
    [Range(0.0, 1.0)] public double TopP { get; init; } = 1.0;
    [Range(1, 131_072)] public int MaxTokens { get; init; } = 512;
    public string[] Stop { get; init; } = [];
    /// <summary>Base seed; sample i of a question asks with seed + i (endpoints that honour seeds then repeat themselves).</summary>
    public long? Seed { get; init; }
    /// <summary>Alternatives per token to record with each rationale's log-probabilities (null: none asked).</summary>
    [Range(0, 20)] public int? TopLogprobs { get; init; }
    /// <summary>How long one call may take before it is abandoned.</summary>
    [Range(1, 3_600)] public int TimeoutSeconds { get; init; } = 120;
}
