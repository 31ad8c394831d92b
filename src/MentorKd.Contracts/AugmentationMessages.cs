using Google.Protobuf;
using MentorKd.Protos.V1;

namespace MentorKd.Contracts;

// Mentor augmentation on the broker: the augmentation service loads the mentor into the mentor-server and samples
// rationales for a registered question set. Sampling settings are the gRPC contract's message, as protobuf bytes.

/// <summary>Have the mentor at <c>MentorCheckpointKey</c> sample <c>SamplesPerQuestion</c> rationales for every question
/// of the registered dataset <c>QuestionsDatasetId</c>; the correct ones are stored at <c>OutputKey</c> and registered
/// as <c>OutputDatasetId</c>, the mentor held in <c>MentorDtype</c> (float32 or bfloat16; empty: float32). The outcome is
/// published as <see cref="QuestionsAugmented"/> under the same id.</summary>
public sealed record AugmentQuestions(string AugmentationId, string MentorCheckpointKey, string QuestionsDatasetId, string OutputDatasetId, string OutputKey,
    int SamplesPerQuestion, byte[] Sampling, string MentorDtype = "")
{
    public const string Queue = "augment-questions";

    public SamplingParameters ReadSampling() => SamplingParameters.Parser.ParseFrom(Sampling);
}

/// <summary>How far an augmentation has come (a few per second at most).</summary>
public sealed record QuestionsAugmentationProgressed(string AugmentationId, int QuestionsDone, int Questions);

/// <summary>An augmentation finished (its rationales stored and registered), or <c>Error</c> says why it failed.</summary>
public sealed record QuestionsAugmented(string AugmentationId, string OutputKey, int Samples, int Correct, int QuestionsCovered, string Producer, string Error);
