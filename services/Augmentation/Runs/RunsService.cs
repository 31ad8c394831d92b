using System.Text;
using System.Text.Json;
using Grpc.Core;
using MassTransit;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Distillation.Pipeline;
using MentorKd.ProtoMapping;
using MentorKd.Protos.V1;
using MentorKd.ServiceDefaults;
using MentorKd.Storage;
using Microsoft.AspNetCore.Authorization;
using MentorKd.ServiceDefaults.Security;

namespace MentorKd.Augmentation.Runs;

/// <summary>
/// Start, watch, list and cancel Mentor-KD runs, and read their reports. Starting stores the config and publishes
/// RunSubmitted; the run state machine (<see cref="RunStateMachine"/>) takes the run from there.
/// </summary>
public sealed class RunsService(IObjectStore store, RunFeeds feeds, ILoadSagaRepository<RunState> sagas, IQuerySagaRepository<RunState> query,
    IBus bus, RunReportWriter reports, Datasets.DatasetRegistry registry, UnfinishedRuns unfinished, RunOwners owners, Microsoft.Extensions.Options.IOptions<AugmentationOptions> options)
    : Protos.V1.Runs.RunsBase
{
    [Authorize(Policy = PlatformRoles.Runner)]
    public override async Task<Run> StartRun(StartRunRequest request, ServerCallContext context)
    {
        var token = context.CancellationToken;
        RpcErrors.Require(!string.IsNullOrWhiteSpace(request.ConfigJson), "config_json", "is empty.");
        var runId = Guid.NewGuid();
        if (request.RunId.Length > 0) runId = ParseRunId(request.RunId);
        var config = ParseConfig(request.ConfigJson, options.Value.Limits);
        var caller = context.Caller();
        return await owners.StartWithinLimitAsync(runId, caller, options.Value.Limits.MaxConcurrentRunsPerClient, async () =>
        {
            if (await sagas.Load(runId) is { } existing && !existing.ToProto().Status.IsFinished()) return existing.ToProto();
            var keys = new RunKeys(runId);
            var json = JsonSerializer.Serialize(config, RunConfig.Json);
            if (await store.StatAsync(keys.Config, token) is not null)
            {
                // The same run started again (after a restart or a failure) continues; a different config under its id would mix two runs.
                var stored = await ReadTextAsync(keys.Config, token);
                if (stored != json) RpcErrors.FailedPrecondition($"run_id: run {keys.Id} was started with a different config.");
            }
            else
            {
                using var content = new MemoryStream(Encoding.UTF8.GetBytes(json));
                await store.PutAsync(keys.Config, content, token);
            }
            await unfinished.MarkAsync(runId, token);
            var submitted = new RunSubmitted(runId, config.Name, keys.Config, DateTime.UtcNow, await owners.FindAsync(runId, token) ?? caller.Name);
            await bus.Publish(submitted, token);
            return RunViews.Submitted(submitted);
        }, token);
    }

    [Authorize(Policy = PlatformRoles.Reader)]
    public override async Task WatchRun(WatchRunRequest request, IServerStreamWriter<RunEvent> responseStream, ServerCallContext context)
    {
        var runId = ParseRunId(request.RunId);
        var feed = await FindFeedAsync(runId, context.CancellationToken);
        if (feed is null)
        {
            // Not worked on by this process since it started: all there is to say is where the run stands.
            var view = await FindAsync(runId);
            await responseStream.WriteAsync(new RunEvent
            {
                RunId = view.RunId, Kind = view.Status.IsFinished() ? RunEventKind.RunEnded : RunEventKind.StageProgress, Status = view.Status,
                Message = view.Error, AtUnixMs = view.UpdatedAtUnixMs,
            }, context.CancellationToken);
            return;
        }

        int position = 0;
        while (true)
        {
            var changed = feed.Changed;
            var events = feed.From(position);
            foreach (var e in events) await responseStream.WriteAsync(e, context.CancellationToken);
            position += events.Count;
            if (events.Count > 0 && events[^1].Kind == RunEventKind.RunEnded) return;
            await changed.WaitAsync(context.CancellationToken);
        }
    }

    [Authorize(Policy = PlatformRoles.Reader)]
    public override async Task<Run> GetRun(GetRunRequest request, ServerCallContext context) => await FindAsync(ParseRunId(request.RunId));

    [Authorize(Policy = PlatformRoles.Reader)]
    public override async Task<ListRunsResponse> ListRuns(ListRunsRequest request, ServerCallContext context)
    {
        var response = new ListRunsResponse();
        foreach (var id in await query.Find(new AllRunsQuery()))
            if (await sagas.Load(id) is { } state) response.Runs.Add(state.ToProto());
        var ordered = response.Runs.OrderByDescending(r => r.SubmittedAtUnixMs).ToList();
        response.Runs.Clear();
        response.Runs.AddRange(ordered);
        return response;
    }

    [Authorize(Policy = PlatformRoles.Runner)]
    public override async Task<Run> CancelRun(CancelRunRequest request, ServerCallContext context)
    {
        var runId = ParseRunId(request.RunId);
        var view = await FindAsync(runId);
        await owners.RequireOwnerOrAdminAsync(runId, context.Caller(), context.CancellationToken);
        if (view.Status.IsFinished()) return view;
        await bus.Publish(new RunCancellationRequested(runId, request.Reason.Length > 0 ? request.Reason : "cancelled by a client"), context.CancellationToken);
        return view;
    }

    [Authorize(Policy = PlatformRoles.Reader)]
    public override async Task<Protos.V1.RunReport> GetReport(GetReportRequest request, ServerCallContext context)
    {
        var runId = ParseRunId(request.RunId);
        var report = await reports.ReadAsync(new RunKeys(runId), context.CancellationToken);
        if (report is not null) return report;
        var view = await FindAsync(runId);
        RpcErrors.FailedPrecondition($"run_id: run {view.RunId} has no report yet (status {view.Status}).");
        return null!;
    }

    /// <summary>The run's progress as its state machine reports it here. A run just started may still have its
    /// RunSubmitted in flight: give it a moment.</summary>
    private async Task<RunProgressFeed?> FindFeedAsync(Guid runId, CancellationToken cancellationToken)
    {
        var started = await store.StatAsync(new RunKeys(runId).Config, cancellationToken) is not null;
        for (int attempt = 0; ; attempt++)
        {
            if (feeds.Find(runId) is { } feed) return feed;
            if (!started || attempt == 100 || await sagas.Load(runId) is { } state && state.ToProto().Status.IsFinished()) return null;
            await Task.Delay(50, cancellationToken);
        }
    }

    [Authorize(Policy = PlatformRoles.Runner)]
    public override async Task<AddQuestionsResponse> AddQuestions(AddQuestionsRequest request, ServerCallContext context)
    {
        var token = context.CancellationToken;
        var runId = ParseRunId(request.RunId);
        var keys = new RunKeys(runId);
        if (await store.StatAsync(keys.Config, token) is null) RpcErrors.NotFound($"run_id: no run '{keys.Id}'.");
        await owners.RequireOwnerOrAdminAsync(runId, context.Caller(), token);
        var config = RunConfig.Parse(await ReadTextAsync(keys.Config, token), Environment.CurrentDirectory);
        if (await sagas.Load(runId) is { } state && state.ToProto().Status is RunStatus.Failed or RunStatus.Cancelled)
            RpcErrors.FailedPrecondition($"run_id: run {keys.Id} is {state.ToProto().Status}; start it again before adding questions.");
        RpcErrors.Require(request.Questions.Count > 0 != request.QuestionsKey.Length > 0, "questions", "give either questions or questions_key.");

        IReadOnlyList<Distillation.Data.Question> questions;
        string text;
        if (request.Questions.Count > 0)
        {
            questions = request.Questions.ToQuestions("questions");
            text = string.Concat(questions.Select(q => JsonSerializer.Serialize(q, JsonLines.Options) + "\n"));
        }
        else
        {
            RpcErrors.RequireKey(request.QuestionsKey, "questions_key");
            await registry.RequireReadableAsync(request.QuestionsKey, "questions_key", options.Value.Limits.MaxDatasetBytes, token);
            text = await ReadTextAsync(request.QuestionsKey, token);
            try { questions = JsonLines.Parse<Distillation.Data.Question>(text.Split('\n'), request.QuestionsKey); }
            catch (InvalidDataException e) { RpcErrors.InvalidArgument("questions_key", $"'{request.QuestionsKey}' is not a JSONL of questions ({e.Message})."); throw; }
            RpcErrors.Require(questions.Count > 0, "questions_key", $"'{request.QuestionsKey}' holds no questions.");
            if (QuestionIds.FirstRepeat(questions) is var (index, earlier))
                RpcErrors.InvalidArgument("questions_key", $"'{request.QuestionsKey}':{index + 1}: question id '{questions[index].Id}' is also line {earlier + 1}'s; ids must be unique.");
        }
        var heldOut = await HeldOutQuestions.ReadAsync(store, registry, keys, token);
        for (int i = 0; i < questions.Count; i++)
        {
            RpcErrors.Require(questions[i].Task == config.Task.Name, $"questions[{i}].task", $"'{questions[i].Task}' is not this run's task ({config.Task.Name}).");
            RpcErrors.Require(questions[i].Answer.Length > 0, $"questions[{i}].answer", "is empty: the teacher's and the mentor's rationales are judged against it.");
            RpcErrors.Require(heldOut.Find(questions[i]) is not { } repeated, $"questions[{i}].text",
                $"is the run's {heldOut.Find(questions[i])}: training on it would leak it into the accuracy the run reports.");
        }

        // Identified by the stored bytes' hash (as a bucket upload is), so the same questions added twice make one round.
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)));
        var key = request.QuestionsKey.Length > 0 ? request.QuestionsKey : $"{keys.Incoming}api-{sha256[..16]}.jsonl";
        // New questions put a finished run back to work: the owner's limit on runs under way holds here too.
        return await owners.StartWithinLimitAsync(runId, context.Caller(), options.Value.Limits.MaxConcurrentRunsPerClient, async () =>
        {
            ObjectInfo info;
            if (request.Questions.Count > 0)
            {
                using var content = new MemoryStream(Encoding.UTF8.GetBytes(text));
                info = await store.PutAsync(key, content, token);
            }
            else info = (await store.StatAsync(key, token))!;
            await unfinished.MarkAsync(runId, token);
            await bus.Publish(new RunQuestionsAdded(runId, key, sha256, request.Questions.Count > 0 ? "runs-api" : "runs-api:key"), token);
            return new AddQuestionsResponse
            {
                RunId = keys.Id, Count = questions.Count, Questions = new ObjectRef { Key = info.Key, Sha256 = sha256, SizeBytes = info.Size },
            };
        }, token);
    }

    private async Task<Run> FindAsync(Guid runId)
    {
        if (await sagas.Load(runId) is { } state) return state.ToProto();
        var keys = new RunKeys(runId);
        // Started and not yet taken up by the state machine (its RunSubmitted in flight, or queued while the service restarts).
        if (await store.StatAsync(keys.UnfinishedMarker) is not null)
            return new Run { RunId = keys.Id, Status = RunStatus.Submitted, ConfigKey = keys.Config, SubmittedBy = await owners.FindAsync(runId, CancellationToken.None) ?? "" };
        if (await store.StatAsync(keys.Ended) is not null) return Run.Parser.ParseJson(await ReadTextAsync(keys.Ended, CancellationToken.None));
        RpcErrors.NotFound($"run_id: no run '{keys.Id}'.");
        return null!;
    }

    private static Guid ParseRunId(string runId)
    {
        RpcErrors.Require(Guid.TryParse(runId, out var id) && id != Guid.Empty, "run_id", $"'{runId}' is not a run id (a UUID).");
        return id;
    }

    /// <summary>The config as the run will use it: validated against the platform's limits (errors name the field) and
    /// with absolute file paths.</summary>
    private static RunConfig ParseConfig(string json, RunLimits limits)
    {
        try
        {
            var config = RunConfig.Parse(json, Environment.CurrentDirectory);
            RunConfigValidator.Validate(config, limits);
            return config.WithAbsolutePaths(limits.DataRoots);
        }
        catch (ConfigException e)
        {
            RpcErrors.InvalidArgument(e.Field.Length > 0 ? $"config_json.{e.Field}" : "config_json", e.Message.Replace($"config: {e.Field}: ", ""));
            throw;
        }
        catch (Exception e) when (e is ArgumentException or IOException)
        {
            // A path no filesystem takes (a NUL in it, a loop of links): the config is what is wrong.
            RpcErrors.InvalidArgument("config_json", e.Message);
            throw;
        }
    }

    private async Task<string> ReadTextAsync(string key, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer, cancellationToken);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
