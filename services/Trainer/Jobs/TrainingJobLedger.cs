using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using MentorKd.Protos.V1;
using MentorKd.Storage;

namespace MentorKd.Trainer.Jobs;

/// <summary>
/// Training jobs' durable state in the object store, shared by every trainer replica, under trainer/jobs/{job}/:
/// <c>job.json</c> (the job as GetJob shows it, and the workspace slot holding its latest checkpoint),
/// <c>cancel</c> (present once someone asked to stop it) and <c>workspace/{a,b}/</c> (the job's checkpoint folder,
/// last/ and best/). Slots alternate so a replica killed halfway through an upload leaves the previous one whole;
/// job.json names a slot only after the slot is complete.
/// </summary>
public sealed class TrainingJobLedger(IObjectStore store)
{
    /// <summary>A job and where its latest checkpoint is (null before its first epoch ends).</summary>
    public sealed record Entry(TrainingJob Job, string? Slot)
    {
        public bool IsFinished => Job.State is JobState.Completed or JobState.Failed or JobState.Cancelled;

        public static Entry New(string jobId, string startedBy = "") =>
            new(new TrainingJob { JobId = jobId, State = JobState.Queued, StartedBy = startedBy, Progress = new TrainingProgress { JobId = jobId, State = JobState.Queued } }, null);
    }

    public static string Folder(string jobId) => $"trainer/jobs/{jobId}/";

    public static string Workspace(string jobId, string slot) => $"{Folder(jobId)}workspace/{slot}/";

    public async Task<Entry?> FindAsync(string jobId, CancellationToken cancellationToken)
    {
        var key = Folder(jobId) + "job.json";
        if (await store.StatAsync(key, cancellationToken) is null) return null;
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer, cancellationToken);
        var json = JsonNode.Parse(buffer.ToArray())!;
        return new Entry(JsonParser.Default.Parse<TrainingJob>(json["job"]!.ToJsonString()), (string?)json["slot"]);
    }

    public async Task SaveAsync(Entry entry, CancellationToken cancellationToken)
    {
        var json = new JsonObject { ["slot"] = entry.Slot, ["job"] = JsonNode.Parse(JsonFormatter.Default.Format(entry.Job)) };
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(json.ToJsonString()));
        await store.PutAsync(Folder(entry.Job.JobId) + "job.json", content, cancellationToken);
    }

    public async Task RequestCancelAsync(string jobId, string reason, CancellationToken cancellationToken)
    {
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(reason));
        await store.PutAsync(Folder(jobId) + "cancel", content, cancellationToken);
    }

    public async Task<bool> IsCancelRequestedAsync(string jobId, CancellationToken cancellationToken) =>
        await store.StatAsync(Folder(jobId) + "cancel", cancellationToken) is not null;

    /// <summary>A job that ended cancelled or failed becomes queued again, keeping its checkpoint slot (it resumes from
    /// its last stored epoch); the cancel marker goes. Completed jobs stay completed.</summary>
    public async Task ReopenAsync(string jobId, CancellationToken cancellationToken)
    {
        if (await FindAsync(jobId, cancellationToken) is not { Job.State: JobState.Cancelled or JobState.Failed } ended) return;
        await store.DeleteAsync(Folder(jobId) + "cancel", cancellationToken);
        var job = ended.Job.Clone();
        (job.State, job.Error) = (JobState.Queued, "");
        await SaveAsync(ended with { Job = job }, cancellationToken);
    }
}
