using System.Text.Json;
using System.Text.Json.Serialization;

namespace MentorKd.MentorServer.OpenAi;

// The slice of OpenAI's HTTP API that a text model serves: the request fields it honours and the responses it sends,
// named as OpenAI names them (snake_case on the wire). Fields a request may send in two shapes (a prompt or stop
// given as a string or a list) arrive as JSON and are read by OpenAiRequest.

/// <summary>What completion and chat requests share: the model and how to sample.</summary>
public abstract record SamplingRequest
{
    public string? Model { get; init; }
    public int? MaxTokens { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? N { get; init; }
    public bool Stream { get; init; }
    public StreamOptions? StreamOptions { get; init; }
    public JsonElement Stop { get; init; }
    public long? Seed { get; init; }
}

public sealed record CompletionRequest : SamplingRequest
{
    public JsonElement Prompt { get; init; }
    public int? Logprobs { get; init; }
    public bool Echo { get; init; }
}

public sealed record ChatCompletionRequest : SamplingRequest
{
    public IReadOnlyList<ChatMessage>? Messages { get; init; }
    public int? MaxCompletionTokens { get; init; }
    public bool? Logprobs { get; init; }
    public int? TopLogprobs { get; init; }
}

public sealed record StreamOptions(bool IncludeUsage);

/// <summary>A chat message; content is a string or a list of text parts.</summary>
public sealed record ChatMessage(string? Role, JsonElement Content);

public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens);

public sealed record CompletionResponse(string Id, string Object, long Created, string Model, IReadOnlyList<CompletionChoice> Choices, Usage? Usage);

public sealed record CompletionChoice(int Index, string Text, CompletionLogprobs? Logprobs, string? FinishReason);

/// <summary>The legacy completions endpoint's log-probabilities: parallel lists, one entry per generated token.</summary>
public sealed record CompletionLogprobs(IReadOnlyList<string> Tokens, IReadOnlyList<float> TokenLogprobs,
    IReadOnlyList<IReadOnlyDictionary<string, float>> TopLogprobs, IReadOnlyList<int> TextOffset);

public sealed record ChatCompletionResponse(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChoice> Choices, Usage? Usage);

public sealed record ChatChoice(int Index, ChatReply? Message, ChatReply? Delta, ChatLogprobs? Logprobs, string? FinishReason);

public sealed record ChatReply(string? Role, string? Content);

public sealed record ChatLogprobs(IReadOnlyList<TokenLogprob> Content);

public sealed record TokenLogprob(string Token, float Logprob, IReadOnlyList<int> Bytes, IReadOnlyList<TopLogprob>? TopLogprobs);

public sealed record TopLogprob(string Token, float Logprob, IReadOnlyList<int> Bytes);

public sealed record ModelList(string Object, IReadOnlyList<ModelCard> Data);

public sealed record ModelCard(string Id, string Object, long Created, string OwnedBy);

public sealed record ErrorResponse(ErrorBody Error);

public sealed record ErrorBody(string Message, string Type, string? Param, string? Code);

internal static class OpenAiJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
