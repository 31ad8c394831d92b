using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Teachers;
using OpenAI;
using OpenAI.Chat;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace MentorKd.TeacherGateway.OpenAi;

/// <summary>
/// A teacher behind an OpenAI-compatible API, through the official OpenAI .NET client's pipeline (authentication,
/// errors, transport) over the teacher's resilient HTTP client (<see cref="TeacherHttpClient"/>). Requests go through
/// the client's protocol methods with the body written here, because the typed chat model keeps only the first choice
/// and has no <c>n</c>, and the legacy completions endpoint has no typed method. Every call is looked up in the ledger
/// first and recorded there before its reply is used; a reply that cannot be read is asked again, and a call that fails
/// after every retry is reported as a <see cref="TeacherFailure"/>, never as an empty rationale.
/// </summary>
public sealed class OpenAiTeacher : IGatewayTeacher
{
    private const int MalformedReplyRetries = 2;

    private readonly OpenAiTeacherOptions _options;
    private readonly PromptTemplate _template, _harder, _similar;
    private readonly Dictionary<string, PromptTemplate> _templateByTask;
    private readonly TeacherCallLedger _ledger;
    private readonly ChatClient _chat;
    private readonly SlidingWindowRateLimiter? _tokensPerMinute;
    private readonly ResiliencePipeline _malformedReplies;

    public OpenAiTeacher(string name, OpenAiTeacherOptions options, TeacherCallLedger ledger)
    {
        (_options, _ledger) = (options, ledger);
        (_template, _harder, _similar) = (PromptTemplate.Load(options.Prompt), PromptTemplate.Load(options.HarderPrompt), PromptTemplate.Load(options.SimilarPrompt));
        _templateByTask = options.PromptsByTask.ToDictionary(p => p.Key, p => PromptTemplate.Load(p.Value));
        Name = $"openai:{name}({options.Model})";
        var clientOptions = new OpenAIClientOptions
        {
            Endpoint = new Uri(options.BaseUrl),
            Transport = new HttpClientPipelineTransport(TeacherHttpClient.Create(name, options)),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // the resilience pipeline retries
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        };
        _chat = new ChatClient(options.Model, new ApiKeyCredential(ApiKey(name, options)), clientOptions);
        if (options.TokensPerMinute is { } tokens)
            _tokensPerMinute = new SlidingWindowRateLimiter(new SlidingWindowRateLimiterOptions
            {
                PermitLimit = tokens, Window = TimeSpan.FromMinutes(1), SegmentsPerWindow = 12, QueueLimit = int.MaxValue,
            });
        _malformedReplies = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = MalformedReplyRetries, Delay = TimeSpan.FromMilliseconds(200),
            ShouldHandle = new PredicateBuilder().Handle<MalformedReplyException>(),
        }).Build();
    }

    public string Name { get; }

    /// <summary>The rationale template(s), as a report shows them.</summary>
    public string PromptName => _templateByTask.Count == 0
        ? _template.Name
        : string.Join(", ", _templateByTask.OrderBy(p => p.Key).Select(p => $"{p.Value.Name} ({p.Key})").Append($"{_template.Name} (other tasks)"));

    private PromptTemplate TemplateFor(string task) => _templateByTask.GetValueOrDefault(task) ?? _template;

    public int MaxConcurrentCalls => _options.MaxConcurrentCalls;

    public OpenAiTeacherOptions Options => _options;

    public async Task<AnnotatedQuestion> AnnotateAsync(Question question, int count, UsageMeter meter, CancellationToken cancellationToken)
    {
        var prompt = TemplateFor(question.Task).Render(question.Text);
        var rationales = new List<Rationale>(count);
        var failures = new List<TeacherFailure>();
        // One call asking for n = k, or k calls (sample i asks with seed + i) for endpoints without n.
        var calls = _options.SamplesInOneCall ? [(First: 0, Count: count)] : Enumerable.Range(0, count).Select(i => (First: i, Count: 1)).ToList();
        foreach (var (first, choices) in calls)
        {
            var call = CallFor(prompt, choices, first);
            try
            {
                var reply = await AskAsync(call, meter, cancellationToken);
                for (int i = 0; i < reply.Choices.Count; i++)
                {
                    var choice = reply.Choices[i];
                    var read = TeacherReplies.Read(choice.Text, question.Task);
                    if (read.Problem is not null) meter.RecordProblem();
                    var seed = _options.Seed is { } s ? s + first + i : (long?)null;
                    rationales.Add(TeacherReplies.Judge(question, read, Name, new SamplingSettings(_options.Temperature, null, _options.TopP, seed), choice.Logprobs));
                }
            }
            catch (TeacherCallFailedException failed)
            {
                for (int i = 0; i < choices; i++)
                {
                    meter.RecordFailure();
                    failures.Add(new TeacherFailure(question.Id, first + i, failed.Message));
                }
            }
        }
        return new AnnotatedQuestion(question, rationales, failures);
    }

    /// <summary>
    /// New problems from <paramref name="original"/>: each written by its own call with the harder or similar template,
    /// then solved <paramref name="verifySamples"/> times with the rationale template; accepted only when every solution
    /// states an answer and all agree (self-consistency), with that answer as its gold and the first solution as its rationale.
    /// </summary>
    public async Task<SynthesisOutcome> SynthesizeAsync(Question original, SynthesisMode mode, int count, int verifySamples, UsageMeter meter,
        CancellationToken cancellationToken)
    {
        var prompt = (mode == SynthesisMode.Harder ? _harder : _similar).Render(original.Text, original.Answer);
        var (accepted, rejected) = (new List<SynthesizedProblem>(), new List<RejectedProblem>());
        for (int i = 0; i < count; i++)
        {
            string text = "";
            try
            {
                var reply = (await AskAsync(CallFor(prompt, 1, i), meter, cancellationToken)).Choices[0].Text;
                if (TeacherReplies.ReadProblem(reply) is not { } problem)
                {
                    rejected.Add(new RejectedProblem(original.Id, mode, reply.Trim(), "the reply holds no problem"));
                    continue;
                }
                text = problem;
                var candidate = new Question(SynthesisOutcome.IdOf(original, mode, i), original.Task, text, "");
                var (verified, rationale, reason) = await VerifyAsync(candidate, verifySamples, meter, cancellationToken);
                if (reason is not null) rejected.Add(new RejectedProblem(original.Id, mode, text, reason));
                else accepted.Add(new SynthesizedProblem(verified!, original.Id, mode, rationale!));
            }
            catch (TeacherCallFailedException failed)
            {
                meter.RecordFailure();
                rejected.Add(new RejectedProblem(original.Id, mode, text, $"a call failed after every retry: {failed.Message}"));
            }
        }
        return new SynthesisOutcome(accepted, rejected);
    }

    private async Task<(Question? Question, Rationale? Rationale, string? Reason)> VerifyAsync(Question candidate, int k, UsageMeter meter, CancellationToken cancellationToken)
    {
        var prompt = TemplateFor(candidate.Task).Render(candidate.Text);
        var replies = new List<TeacherReply>(k);
        if (_options.SamplesInOneCall)
            replies.AddRange((await AskAsync(CallFor(prompt, k, 0), meter, cancellationToken)).Choices.Select(c => TeacherReplies.Read(c.Text, candidate.Task)));
        else
            for (int j = 0; j < k; j++)
                replies.Add(TeacherReplies.Read((await AskAsync(CallFor(prompt, 1, j), meter, cancellationToken)).Choices[0].Text, candidate.Task));
        if (replies.FirstOrDefault(r => r.Problem is not null) is { } unusable)
            return (null, null, $"a solution has no usable answer ({unusable.Problem})");
        var rule = Distillation.Tasks.AnswerRules.For(candidate.Task);
        if (!replies.All(r => rule.IsCorrect(r.Answer, replies[0].Answer)))
            return (null, null, $"{k} solutions disagree ({string.Join(", ", replies.Select(r => r.Answer))})");
        var verified = candidate with { Answer = replies[0].Answer };
        var sampling = new SamplingSettings(_options.Temperature, null, _options.TopP, _options.Seed);
        return (verified, TeacherReplies.Judge(verified, replies[0], Name, sampling), null);
    }

    /// <summary>The call for a prompt as this teacher is configured: what the ledger is keyed by.</summary>
    public TeacherCall CallFor(string prompt, int choices, int sample) =>
        new(_options.BaseUrl, _options.Model, _options.Api, prompt, _options.Temperature, _options.TopP, _options.MaxTokens, _options.Stop,
            _options.Seed is { } seed ? seed + sample : null, _options.TopLogprobs, choices, _options.SamplesInOneCall ? 0 : sample);

    /// <summary>A call's reply: from the ledger when it was asked before, else from the API (then recorded, then used).</summary>
    /// <exception cref="TeacherCallFailedException">Every retry failed; the reason names what went wrong last.</exception>
    public async Task<TeacherCallReply> AskAsync(TeacherCall call, UsageMeter meter, CancellationToken cancellationToken)
    {
        if (await _ledger.FindAsync(call, cancellationToken) is { } stored)
        {
            meter.RecordCacheHit();
            return stored;
        }
        if (_tokensPerMinute is not null)
        {
            int estimate = Math.Min(_options.TokensPerMinute!.Value, call.Prompt.Length / 4 + call.MaxTokens * call.Choices);
            using var lease = await _tokensPerMinute.AcquireAsync(estimate, cancellationToken);
        }
        var previous = UsageMeter.Current;
        UsageMeter.Current = meter; // the HTTP pipeline counts each attempt against this annotation
        try
        {
            var reply = await _malformedReplies.ExecuteAsync(async token => await SendAsync(call, token), cancellationToken);
            await _ledger.SaveAsync(call, reply, cancellationToken);
            meter.RecordCall(reply.PromptTokens, reply.CompletionTokens, _options.CostOf(reply.PromptTokens, reply.CompletionTokens));
            return reply;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && Reason(e) is { } reason)
        {
            throw new TeacherCallFailedException(reason, e);
        }
        finally
        {
            UsageMeter.Current = previous;
        }
    }

    private async Task<TeacherCallReply> SendAsync(TeacherCall call, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["model"] = call.Model, ["max_tokens"] = call.MaxTokens, ["temperature"] = call.Temperature, ["top_p"] = call.TopP };
        if (call.Choices > 1) body["n"] = call.Choices;
        if (call.Stop.Count > 0) body["stop"] = new JsonArray(call.Stop.Select(s => (JsonNode)s!).ToArray());
        if (call.Seed is { } seed) body["seed"] = seed;
        var requestOptions = new RequestOptions { CancellationToken = cancellationToken };
        ClientResult result;
        if (call.Api == "chat")
        {
            body["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = call.Prompt });
            if (call.TopLogprobs is { } top) (body["logprobs"], body["top_logprobs"]) = (true, top);
            result = await _chat.CompleteChatAsync(BinaryContent.Create(BinaryData.FromString(body.ToJsonString())), requestOptions);
        }
        else
        {
            body["prompt"] = call.Prompt;
            if (call.TopLogprobs is { } top) body["logprobs"] = top;
            result = await PostCompletionsAsync(body, requestOptions);
        }
        return Parse(result.GetRawResponse().Content.ToString(), call);
    }

    /// <summary>The legacy /completions endpoint, sent through the chat client's pipeline (the client has no method for it).</summary>
    private async Task<ClientResult> PostCompletionsAsync(JsonObject body, RequestOptions requestOptions)
    {
        using var message = _chat.Pipeline.CreateMessage();
        message.Request.Method = "POST";
        message.Request.Uri = new Uri(_options.BaseUrl.TrimEnd('/') + "/completions");
        message.Request.Headers.Set("Content-Type", "application/json");
        message.Request.Content = BinaryContent.Create(BinaryData.FromString(body.ToJsonString()));
        message.ResponseClassifier = PipelineMessageClassifier.Create([200]);
        message.Apply(requestOptions);
        await _chat.Pipeline.SendAsync(message);
        var response = message.Response!;
        if (response.IsError) throw new ClientResultException(response);
        return ClientResult.FromResponse(message.ExtractResponse()!);
    }

    /// <summary>A reply's choices (in index order) and the API's token counts; a body that is not a complete reply is malformed.</summary>
    private TeacherCallReply Parse(string json, TeacherCall call)
    {
        try
        {
            var root = JsonNode.Parse(json) ?? throw new MalformedReplyException("the reply body is empty");
            var choices = root["choices"]?.AsArray().Where(c => c is not null).OrderBy(c => c!["index"]?.GetValue<int>() ?? 0).ToList() ?? [];
            if (choices.Count < call.Choices)
                throw new MalformedReplyException($"the reply has {choices.Count} choices; {call.Choices} were asked for");
            var read = choices.Take(call.Choices).Select(c => call.Api == "chat" ? ChatChoice(c!, call) : CompletionChoice(c!, call)).ToList();
            var usage = root["usage"];
            return new TeacherCallReply(read, usage?["prompt_tokens"]?.GetValue<int>() ?? 0, usage?["completion_tokens"]?.GetValue<int>() ?? 0, DateTimeOffset.UtcNow);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new MalformedReplyException($"the reply is not valid JSON of the expected shape ({e.Message})");
        }
    }

    private static TeacherChoice ChatChoice(JsonNode choice, TeacherCall call)
    {
        var content = choice["message"]?["content"];
        var text = content is JsonValue ? content.GetValue<string>() : "";
        List<TokenLogprob>? logprobs = null;
        if (call.TopLogprobs is not null && choice["logprobs"]?["content"] is JsonArray tokens)
            logprobs = tokens.Select(t => new TokenLogprob(t!["token"]!.GetValue<string>(), t["logprob"]!.GetValue<float>(),
                t["top_logprobs"] is JsonArray top ? top.GroupBy(a => a!["token"]!.GetValue<string>()).ToDictionary(g => g.Key, g => g.First()!["logprob"]!.GetValue<float>()) : null)).ToList();
        return new TeacherChoice(text, choice["finish_reason"]?.GetValue<string>(), logprobs);
    }

    private static TeacherChoice CompletionChoice(JsonNode choice, TeacherCall call)
    {
        List<TokenLogprob>? logprobs = null;
        if (call.TopLogprobs is not null && choice["logprobs"] is JsonObject legacy && legacy["tokens"] is JsonArray tokens)
        {
            var values = legacy["token_logprobs"]!.AsArray();
            var tops = legacy["top_logprobs"] as JsonArray;
            logprobs = tokens.Select((t, i) => new TokenLogprob(t!.GetValue<string>(), values[i]!.GetValue<float>(),
                tops?[i] is JsonObject top ? top.ToDictionary(p => p.Key, p => p.Value!.GetValue<float>()) : null)).ToList();
        }
        return new TeacherChoice(choice["text"]?.GetValue<string>() ?? "", choice["finish_reason"]?.GetValue<string>(), logprobs);
    }

    /// <summary>Why a call failed for good, or null when the failure is not the API's (a bug here should surface as one).</summary>
    private string? Reason(Exception e) => e switch
    {
        ClientResultException { Status: 0, InnerException: { } inner } => Reason(inner) ?? $"the call failed: {FirstLine(e.Message)}",
        ClientResultException { Status: 429 or >= 500 } http => $"HTTP {http.Status} after {_options.MaxRetries} retries: {FirstLine(http.Message)}",
        ClientResultException { Status: > 0 } http => $"HTTP {http.Status} (not retried): {FirstLine(http.Message)}",
        TimeoutRejectedException => $"no reply within {_options.TimeoutSeconds} s, {_options.MaxRetries} retries",
        BrokenCircuitException => "the circuit is open: most recent calls to this teacher failed",
        HttpRequestException http => $"connection failed after {_options.MaxRetries} retries: {http.Message}",
        MalformedReplyException malformed => $"malformed reply, asked {MalformedReplyRetries + 1} times: {malformed.Message}",
        _ => null,
    };

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

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

/// <summary>A reply that is not a complete answer to the call (truncated or invalid JSON, missing choices): asked again.</summary>
public sealed class MalformedReplyException(string message) : Exception(message);

/// <summary>A teacher call that failed after every retry.</summary>
public sealed class TeacherCallFailedException(string reason, Exception inner) : Exception(reason, inner);
