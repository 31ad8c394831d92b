using MentorKd.Distillation.Data;
using MentorKd.Modeling.Generation;
using MentorKd.ServiceDefaults;
using Proto = MentorKd.Protos.V1;

namespace MentorKd.ProtoMapping;

/// <summary>Between the gRPC contract's messages and the library's records, validating as it goes.</summary>
public static class ProtoMapping
{
    public static Question ToQuestion(this Proto.Question question, string field)
    {
        RpcErrors.Require(!string.IsNullOrWhiteSpace(question.Id), $"{field}.id", "is empty.");
        RpcErrors.Require(!string.IsNullOrWhiteSpace(question.Text), $"{field}.text", "is empty.");
        RpcErrors.Require(Distillation.Tasks.TaskNames.All.Contains(question.Task), $"{field}.task",
            $"unknown task '{question.Task}' (known: {string.Join(", ", Distillation.Tasks.TaskNames.All)}).");
        return new Question(question.Id, question.Task, question.Text, question.Answer, question.HasDifficulty ? question.Difficulty : null);
    }

    public static IReadOnlyList<Question> ToQuestions(this IEnumerable<Proto.Question> questions, string field)
    {
        var list = questions.Select((q, i) => q.ToQuestion($"{field}[{i}]")).ToList();
        RpcErrors.Require(list.Count > 0, field, "at least one question is required.");
        if (QuestionIds.FirstRepeat(list) is var (index, earlier))
            RpcErrors.InvalidArgument($"{field}[{index}].id", $"'{list[index].Id}' is also the id of {field}[{earlier}]; ids must be unique.");
        return list;
    }

    public static Proto.Question ToProto(this Question question)
    {
        var proto = new Proto.Question { Id = question.Id, Task = question.Task, Text = question.Text, Answer = question.Answer };
        if (question.Difficulty is { } d) proto.Difficulty = d;
        return proto;
    }

    public static Proto.Rationale ToProto(this Rationale rationale)
    {
        var proto = new Proto.Rationale
        {
            QuestionId = rationale.QuestionId, Text = rationale.Text, ExtractedAnswer = rationale.ExtractedAnswer,
            Correct = rationale.Correct, Source = rationale.Source, Producer = rationale.Producer, Problem = rationale.Problem ?? "",
        };
        foreach (var token in rationale.Logprobs ?? [])
        {
            var logprob = new Proto.TokenLogprob { Token = token.Token, Logprob = token.Logprob };
            foreach (var (alternative, value) in token.Top ?? new Dictionary<string, float>()) logprob.Top[alternative] = value;
            proto.Logprobs.Add(logprob);
        }
        if (rationale.Sampling is { } s)
        {
            proto.Sampling = new Proto.SamplingParameters { Temperature = s.Temperature ?? 0, TopK = s.TopK ?? 0, TopP = s.TopP ?? 1 };
            if (s.Seed is { } seed) proto.Sampling.Seed = seed;
        }
        return proto;
    }

    public static Rationale ToRecord(this Proto.Rationale rationale) => new(
        rationale.QuestionId, rationale.Text, rationale.ExtractedAnswer, rationale.Correct, rationale.Source, rationale.Producer,
        rationale.Sampling is { } s ? new SamplingSettings(s.Temperature, s.TopK, s.TopP, s.HasSeed ? s.Seed : null) : null,
        rationale.Problem is { Length: > 0 } problem ? problem : null,
        rationale.Logprobs.Count > 0
            ? rationale.Logprobs.Select(t => new TokenLogprob(t.Token, t.Logprob, t.Top.Count > 0 ? new Dictionary<string, float>(t.Top) : null)).ToList()
            : null);

    /// <summary>Decoding options from a request; zeros mean the defaults (greedy, no top-k, no top-p).</summary>
    public static GenerationOptions ToOptions(this Proto.SamplingParameters? sampling, int samplesPerQuestion, string field)
    {
        sampling ??= new Proto.SamplingParameters();
        RpcErrors.Require(double.IsFinite(sampling.Temperature) && sampling.Temperature >= 0, $"{field}.temperature", $"must be finite and not negative (got {sampling.Temperature}).");
        RpcErrors.Require(sampling.TopK >= 0, $"{field}.top_k", $"must not be negative (got {sampling.TopK}).");
        RpcErrors.Require(sampling.TopP is >= 0 and <= 1, $"{field}.top_p", $"must be in [0, 1] (got {sampling.TopP}).");
        RpcErrors.Require(sampling.MaxNewTokens >= 0, $"{field}.max_new_tokens", $"must not be negative (got {sampling.MaxNewTokens}).");
        return new GenerationOptions
        {
            Temperature = sampling.Temperature,
            TopK = sampling.TopK,
            TopP = sampling.TopP is 0 ? 1 : sampling.TopP,
            MaxNewTokens = sampling.MaxNewTokens is 0 ? 128 : sampling.MaxNewTokens,
            SamplesPerPrompt = samplesPerQuestion,
            Seed = sampling.HasSeed ? sampling.Seed : null,
        };
    }
}
