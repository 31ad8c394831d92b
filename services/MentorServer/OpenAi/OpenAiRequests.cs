using System.Text.Json;
using MentorKd.Modeling.Generation;
using MentorKd.ModelServing;

namespace MentorKd.MentorServer.OpenAi;

/// <summary>
/// Reads OpenAI completion and chat requests into what the model does, refusing what it cannot honour with OpenAI's
/// error shape (400 naming the parameter; 404 for another model's name). Defaults are OpenAI's: temperature 1, top_p 1,
/// n 1, 16 new tokens for completions and the rest of the context for chat.
/// </summary>
public static class OpenAiRequests
{
    public const int MaxChoices = 64;
    public const int MaxPrompts = 64;
    public const int MaxStops = 4;

    public static (IReadOnlyList<string> Prompts, CompletionSettings Settings) Read(CompletionRequest request, ResidentModel resident)
    {
        RequireModel(request.Model, resident);
        Require(!request.Echo, "echo", "echo is not supported.");
        var prompts = StringOrList(request.Prompt, "prompt", required: true);
        Require(prompts.Count <= MaxPrompts, "prompt", $"at most {MaxPrompts} prompts per request (got {prompts.Count}).");
        Require(request.Logprobs is null or (>= 0 and <= 5), "logprobs", $"must be in 0..5 (got {request.Logprobs}).");
        return (prompts, Settings(request.MaxTokens ?? 16, "max_tokens", request.Temperature, request.TopP, request.N, request.Stop, request.Seed, request.Logprobs));
    }

    public static (string Prompt, CompletionSettings Settings) Read(ChatCompletionRequest request, ResidentModel resident)
    {
        RequireModel(request.Model, resident);
        Require(request.Messages is { Count: > 0 }, "messages", "at least one message is required.");
        var parts = new List<string>();
        for (int i = 0; i < request.Messages!.Count; i++)
        {
            var message = request.Messages[i];
            Require(message.Role is "system" or "developer" or "user" or "assistant", $"messages[{i}].role",
                $"'{message.Role}' is not system, developer, user or assistant.");
            parts.Add(string.Concat(Content(message.Content, $"messages[{i}].content")));
        }
        Require(request.TopLogprobs is null or (>= 0 and <= 20), "top_logprobs", $"must be in 0..20 (got {request.TopLogprobs}).");
        Require(request.TopLogprobs is null || request.Logprobs == true, "top_logprobs", "needs logprobs: true.");
        var maxTokensField = request.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens";
        int maxTokens = request.MaxCompletionTokens ?? request.MaxTokens ?? resident.Model.ContextLength;
        // Models trained here have no chat template: the messages' contents, one per line, are the prompt.
        return (string.Join("\n", parts), Settings(maxTokens, maxTokensField, request.Temperature, request.TopP, request.N, request.Stop, request.Seed,
            request.Logprobs == true ? request.TopLogprobs ?? 0 : null));
    }

    private static CompletionSettings Settings(int maxTokens, string maxTokensField, double? temperature, double? topP, int? n, JsonElement stop, long? seed, int? topLogprobs)
    {
        Require(maxTokens > 0, maxTokensField, $"must be positive (got {maxTokens}).");
        Require(temperature is null or (>= 0 and <= 2), "temperature", $"must be in 0..2 (got {temperature}).");
        Require(topP is null or (> 0 and <= 1), "top_p", $"must be in (0, 1] (got {topP}).");
        Require(n is null or (>= 1 and <= MaxChoices), "n", $"must be in 1..{MaxChoices} (got {n}).");
        var stops = StringOrList(stop, "stop", required: false);
        Require(stops.Count <= MaxStops, "stop", $"at most {MaxStops} stop sequences (got {stops.Count}).");
        Require(stops.All(s => s.Length > 0), "stop", "a stop sequence is empty.");
        var options = new GenerationOptions
        {
            MaxNewTokens = maxTokens, Temperature = temperature ?? 1.0, TopP = topP ?? 1.0, SamplesPerPrompt = n ?? 1, Seed = seed,
        };
        return new CompletionSettings(options, stops, topLogprobs);
    }

    private static void RequireModel(string? model, ResidentModel resident)
    {
        Require(!string.IsNullOrWhiteSpace(model), "model", "is required: GET /v1/models lists the model this server holds.");
        if (model != resident.CheckpointKey)
            throw new OpenAiException(404, $"The model '{model}' is not served here; this server holds '{resident.CheckpointKey}'.", "model", "model_not_found");
    }

    private static IReadOnlyList<string> StringOrList(JsonElement value, string field, bool required)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                Require(!required, field, "is required.");
                return [];
            case JsonValueKind.String:
                return [value.GetString()!];
            case JsonValueKind.Array when value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String):
                var list = value.EnumerateArray().Select(e => e.GetString()!).ToList();
                Require(!required || list.Count > 0, field, "is an empty list.");
                return list;
            default:
                throw new OpenAiException(400, $"{field} must be a string or a list of strings (token-id prompts are not supported).", field);
        }
    }

    private static IEnumerable<string> Content(JsonElement content, string field)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                yield return content.GetString()!;
                break;
            case JsonValueKind.Array:
                foreach (var part in content.EnumerateArray())
                {
                    bool isText = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var type) && type.GetString() == "text"
                        && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String;
                    Require(isText, field, "only text parts are supported.");
                    yield return part.GetProperty("text").GetString()!;
                }
                break;
            default:
                throw new OpenAiException(400, $"{field} must be a string or a list of text parts.", field);
        }
    }

    private static void Require(bool condition, string field, string message)
    {
        if (!condition) throw new OpenAiException(400, $"{field}: {message}", field);
    }
}
