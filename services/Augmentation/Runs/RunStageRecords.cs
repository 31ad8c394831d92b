using System.Text.Json;
using MentorKd.Contracts;
using MentorKd.Distillation.Data;
using MentorKd.Storage;

namespace MentorKd.Augmentation.Runs;

/// <summary>What each finished stage of a run produced, one small JSON object per stage under runs/{id}/stages/.
/// A stage writes its record after its outputs, so a record's presence means the stage is complete.</summary>
public sealed class RunStageRecords(IObjectStore store, RunKeys keys)
{
    public async Task<T?> FindAsync<T>(string stage, CancellationToken cancellationToken) where T : class
    {
        var key = keys.Stage(stage);
        if (await store.StatAsync(key, cancellationToken) is null) return null;
        using var buffer = new MemoryStream();
        await store.GetAsync(key, buffer, cancellationToken);
        return JsonSerializer.Deserialize<T>(buffer.ToArray(), JsonLines.Options);
    }

    public async Task SaveAsync<T>(string stage, T record, CancellationToken cancellationToken)
    {
        using var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(record, JsonLines.Options));
        await store.PutAsync(keys.Stage(stage), json, cancellationToken);
    }
}

public sealed record DataStage(int Train, int Dev, int Test, DateTime StartedAt);

/// <summary>The teacher's annotation: rationales written and kept; for an LLM teacher its prompt template, the calls that
/// failed after every retry (listed at <c>FailuresKey</c>) and what the calls cost.</summary>
public sealed record TeacherStage(string Teacher, int Questions, int Rationales, int Kept, string Prompt = "", int Failed = 0, string FailuresKey = "",
    TeacherUsageTotals? Usage = null);

public sealed record TokenizerStage(string Kind, int VocabSize, string Sha256, long Bytes, string? Fingerprint = null);

/// <summary>A pretrained mentor or student: where it came from (<see cref="Source"/>: the config's folder or key) and the
/// object-store key its training jobs start from.</summary>
public sealed record PretrainedStage(string Role, string Source, string Key, string ModelType, string Sha256, long Bytes);

/// <summary>A finished trainer job: its best checkpoint, per-epoch history, and what it learned from (soft labels: the
/// mentor checkpoint, and how they were served; the checkpoint it started from, null for random weights).</summary>
public sealed record TrainingStage(string JobId, string CheckpointKey, string CheckpointSha256, long CheckpointBytes, string OutcomeKey,
    int Examples, long Parameters, double DevAccuracy, double TestAccuracy, int SelectedEpoch, IReadOnlyList<string> TrainedOn, string? SoftLabelsFrom, string? SoftLabelsVia,
    string? StartedFrom = null);

public sealed record AugmentationStage(int Samples, int Correct, int QuestionsCovered, string Producer);

public sealed record EvaluationStage(string Job, double Accuracy, int Correct, int Total, string ReportKey, string ReportSha256, long ReportBytes);

/// <summary>New questions accepted for a run, waiting for their retraining round; <paramref name="Track"/> says which
/// student they train (<see cref="RoundTracks"/>).</summary>
public sealed record RoundRequest(string QuestionsKey, string Sha256, string Source, DateTime RequestedAt, string Track = RoundTracks.Added);

/// <summary>A finished retraining round (round 0 is the run's own student).</summary>
public sealed record RoundStage(int Round, string QuestionsSha256, int QuestionsAdded, int TrainQuestions, int TeacherKept, int MentorCorrect,
    string CheckpointKey, double TestAccuracy, double DevAccuracy = 0, long TeacherRequests = 0, string Track = RoundTracks.Added);

/// <summary>Which student a retraining round trains. The run's student learns from every round but the baseline's; the
/// FDD baseline's student learns from every round but FDD's, so the two differ only in how their new problems were chosen.</summary>
public static class RoundTracks
{
    /// <summary>Questions a user added (Runs API, bucket upload).</summary>
    public const string Added = "added";
    /// <summary>Problems FDD wrote from the student's feedback.</summary>
    public const string Fdd = "fdd";
    /// <summary>Problems written without feedback, at FDD's teacher-call spend: FDD's honest baseline.</summary>
    public const string FddBaseline = "fdd_baseline";

    /// <summary>Whether an earlier round of <paramref name="track"/> is in the training set of a round of <paramref name="round"/>.</summary>
    public static bool Teaches(string track, string round) => track == Added || (track == FddBaseline) == (round == FddBaseline);
}

/// <summary>An FDD round's feedback and new problems: the pool classified by the student (easy: answered right), the
/// problems the teacher wrote and had accepted per mode, those rejected, the teacher requests it took, and the
/// retraining round that trains on them (<paramref name="Round"/>; 0 when no problem was accepted); with the baseline arm,
/// the problems written without feedback at the same spend and their retraining round (<paramref name="BaselineRound"/>).</summary>
public sealed record FddRoundStage(int Fdd, int Round, int Pool, int Easy, int Hard, int HarderAccepted, int SimilarAccepted, int Rejected,
    long TeacherRequests, string QuestionsKey, int BaselineAccepted = 0, long BaselineTeacherRequests = 0, int BaselineRound = 0, string BaselineQuestionsKey = "");

/// <summary>An FDD round as the report shows it: the round's record with both arms' retrained students (null: none, or
/// no baseline arm), and the FDD student's training problems by difficulty (empty when the task does not know them).</summary>
public sealed record FddRoundRow(FddRoundStage Stage, RoundStage? Fdd, RoundStage? Baseline, IReadOnlyDictionary<int, int> TrainingByDifficulty);
