using MentorKd.Modeling.Model;
using MentorKd.Modeling.Training;
using static TorchSharp.torch;

namespace MentorKd.Distillation.Training;

/// <summary>Soft labels from a frozen mentor held in this process: one forward pass per batch, no gradient.</summary>
public sealed class InProcessMentorSoftLabels(LanguageModel mentor, string name) : ISoftLabelSource
{
    public string Name => name;

    public MentorSoftLabels SoftLabels(LanguageModelBatch batch)
    {
        // no_grad, not inference_mode: the result takes part in the student's autograd graph as a constant.
        using var guard = no_grad();
        mentor.eval();
        return MentorSoftLabels.FromLogits(mentor.TeacherForced(batch));
    }
}
