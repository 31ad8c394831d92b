using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;

namespace MentorKd.ModelServing;

/// <summary>A model loaded into memory from a checkpoint in the object store, with where it came from.</summary>
public sealed record ResidentModel(LanguageModel Model, ITokenizer Tokenizer, string CheckpointKey, string CheckpointSha256, string DType, string Device) : IDisposable
{
    public void Dispose() => Model.Dispose();
}
