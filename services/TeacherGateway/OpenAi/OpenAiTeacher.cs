using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json.Nodes;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Teachers;
using OpenAI;
using OpenAI.Chat;

namespace MentorKd.TeacherGateway.OpenAi;

/// <summary>
/// A teacher behind an OpenAI-compatible API, through the official OpenAI .NET client: the chat endpoint with its chat
/// client, the legacy completions endpoint through the same client's pipeline (authentication, timeouts and retries
/// that honour Retry-After are the client's). Each of a question's k samples is its own call (sample i asks with
/// seed + i), looked up in the ledger first and recorded there before its reply is used. Replies are read into
/// rationales and judged with the task's answer rule, like every other teacher's.
/// </summary>
public sealed class OpenAiTeacher : ITeacher
{
    private readonly OpenAiTeacherOptions _options;
    private readonly PromptTemplate _template;
    private readonly TeacherCallLedger _ledger;
    private readonly TeacherUsage _usage;
    private readonly ChatClient _chat;

    public OpenAiTeacher(string name, OpenAiTeacherOptions options, TeacherCallLedger ledger, TeacherUsage usage)
    {
        (_options, _ledger, _usage) = (options, ledger, usage);
        _template = PromptTemplate.Load(options.Prompt);
        Name = $"openai:{name}({options.Model})";
        var clientOptions = new OpenAIClientOptions
        {
            Endpoint = new Uri(options.BaseUrl),
            NetworkTimeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 4),
        };
        _chat = new ChatClient(options.Model, new ApiKeyCredential(ApiKey(name, options)), clientOptions);
    }

    public string Name { get; }

    public string PromptName => _template.Name;

    public async Task<IReadOnlyList<Rationale>> AnnotateAsync(Question question, int count, CancellationToken cancellationToken)
    {
        var prompt = _template.Render(question.Text);
        var rationales = new List<Rationale>(count);
        for (int sample = 0; sample < count; sample++)
        {
            var call = new TeacherCall(_options.BaseUrl, _options.Model, _options.Api, prompt, _options.Temperature, _options.TopP, _options.MaxTokens,
                _options.Stop, _options.Seed is { } seed ? seed + sample : null, _options.TopLogprobs, sample);
            var reply = await _ledger.FindAsync(call, cancellationToken);
            if (reply is not null) _usage.RecordCacheHit();
            else
            {
                reply = _options.Api == "chat" ? await ChatAsync(call, cancellationToken) : await CompleteAsync(call, cancellationToken);
                await _ledger.SaveAsync(call, reply, cancellationToken);
                _usage.RecordCall(reply.PromptTokens, reply.CompletionTokens);
            }
            var read = TeacherReplies.Read(reply.Text, question.Task);
            if (read.Problem is not null) _usage.RecordProblem();
            rationales.Add(TeacherReplies.Judge(question, read, Name, new SamplingSettings(_options.Temperature, null, _options.TopP, call.Seed)));
        }
        return rationales;
    }

    private async Task<TeacherCallReply> ChatAsync(TeacherCall call, CancellationToken cancellationToken)
    {
        var options = new ChatCompletionOptions { Temperature = (float)call.Temperature, TopP = (float)call.TopP, MaxOutputTokenCount = call.MaxTokens };
        foreach (var stop in call.Stop) options.StopSequences.Add(stop);
#pragma warning disable OPENAI001 // the client marks Seed experimental
        options.Seed = call.Seed;
#pragma warning restore OPENAI001
        if (call.TopLogprobs is { } top) (options.IncludeLogProbabilities, options.TopLogProbabilityCount) = (true, top);
        ChatCompletion completion = await _chat.CompleteChatAsync([new UserChatMessage(call.Prompt)], options, cancellationToken);
        var logprobs = call.TopLogprobs is null ? null : completion.ContentTokenLogProbabilities
            .Select(t => new TokenLogprob(t.Token, t.LogProbability, t.TopLogProbabilities.GroupBy(a => a.Token).ToDictionary(g => g.Key, g => g.First().LogProbability)))
            .ToList();
        return new TeacherCallReply(string.Concat(completion.Content.Select(part => part.Text)), completion.FinishReason.ToString(),
            completion.Usage?.InputTokenCount ?? 0, completion.Usage?.OutputTokenCount ?? 0, logprobs, DateTimeOffset.UtcNow);
    }

    /// <summary>The legacy /completions endpoint, sent through the chat client's pipeline (the client has no typed method for it).</summary>
    private async Task<TeacherCallReply> CompleteAsync(TeacherCall call, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["model"] = call.Model, ["prompt"] = call.Prompt, ["max_tokens"] = call.MaxTokens, ["temperature"] = call.Temperature, ["top_p"] = call.TopP,
        };
        if (call.Stop.Count > 0) body["stop"] = new JsonArray(call.Stop.Select(s => (JsonNode)s!).ToArray());
        if (call.Seed is { } seed) body["seed"] = seed;
        if (call.TopLogprobs is { } top) body["logprobs"] = top;

        using var message = _chat.Pipeline.CreateMessage();
        message.Request.Method = "POST";
        message.Request.Uri = new Uri(_options.BaseUrl.TrimEnd('/') + "/completions");
        message.Request.Headers.Set("Content-Type", "application/json");
        message.Request.Content = BinaryContent.Create(BinaryData.FromString(body.ToJsonString()));
        message.ResponseClassifier = PipelineMessageClassifier.Create([200]);
        message.Apply(new RequestOptions { CancellationToken = cancellationToken });
        await _chat.Pipeline.SendAsync(message);
        var response = message.Response!;
        if (response.IsError) throw new ClientResultException(response);

        var json = JsonNode.Parse(response.Content.ToString())!;
        var choice = json["choices"]?.AsArray().FirstOrDefault() ?? throw new InvalidDataException($"{_options.BaseUrl}/completions answered with no choices.");
        List<TokenLogprob>? logprobs = null;
        if (call.TopLogprobs is not null && choice["logprobs"] is JsonObject legacy)
        {
            var tokens = legacy["tokens"]!.AsArray();
            var values = legacy["token_logprobs"]!.AsArray();
            var tops = legacy["top_logprobs"]?.AsArray();
            logprobs = tokens.Select((t, i) => new TokenLogprob(t!.GetValue<string>(), values[i]!.GetValue<float>(),
                tops?[i]?.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<float>()))).ToList();
        }
        var usage = json["usage"];
        return new TeacherCallReply(choice["text"]?.GetValue<string>() ?? "", choice["finish_reason"]?.GetValue<string>(),
            usage?["prompt_tokens"]?.GetValue<int>() ?? 0, usage?["completion_tokens"]?.GetValue<int>() ?? 0, logprobs, DateTimeOffset.UtcNow);
    }

    private static string ApiKey(string name, OpenAiTeacherOptions options)
    {
        if (options.ApiKeyFile is { Length: > 0 } file)
        {
            if (!File.Exists(file)) throw new InvalidOperationException($"teacher '{name}': its API key file {file} does not exist.");
            return File.ReadAllText(file).Trim();
        }
        if (options.ApiKeyEnv is { Length: > 0 } variable)
            return Environment.GetEnvironmentVariable(variable) is { Length: > 0 } key
                ? key
                : throw new InvalidOperationException($"teacher '{name}': the environment variable {variable} that should hold its API key is not set.");
        return "no-key"; // a local server that takes none; the client still sends a bearer header
    }
}
