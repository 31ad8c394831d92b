using MentorKd.Distillation.Training;

namespace MentorKd.Distillation.Pipeline;

/// <summary>The student variants one run compares, all with the same hyper-parameters, epochs and seeds.</summary>
public static class StudentArms
{
    /// <summary>Teacher rationales only, hard labels only (the baseline).</summary>
    public const string FineTuneCot = "fine_tune_cot";
    /// <summary>Teacher + mentor rationales, hard labels + mentor soft labels.</summary>
    public const string MentorKd = "mentor_kd";
    /// <summary>Ablation: teacher + mentor rationales, hard labels only.</summary>
    public const string NoSoftLabels = "no_soft_labels";
    /// <summary>Ablation: teacher rationales only, with soft labels.</summary>
    public const string NoAugmentation = "no_augmentation";

    /// <summary>Control: teacher rationales only, trained for as many optimiser steps as the Mentor-KD arm.</summary>
    public const string FineTuneCotStepMatched = "fine_tune_cot_step_matched";

    public static readonly IReadOnlyList<string> All = [FineTuneCot, MentorKd, NoSoftLabels, NoAugmentation, FineTuneCotStepMatched];

    public static bool UsesMentorRationales(string arm) => arm is MentorKd or NoSoftLabels;
    public static bool UsesSoftLabels(string arm) => arm is MentorKd or NoAugmentation;

    /// <summary>Epochs on <paramref name="examples"/> that take as many steps as the configured epochs on
    /// <paramref name="referenceExamples"/>, evaluated about as often as the other arms.</summary>
    public static ReasoningTrainingOptions StepMatched(ReasoningTrainingOptions options, int examples, int referenceExamples)
    {
        int Steps(int count) => (Math.Max(1, count) + options.BatchSize - 1) / options.BatchSize;
        int epochs = (int)Math.Ceiling((double)Steps(referenceExamples) * options.Epochs / Steps(examples));
        return options with { Epochs = epochs, EvalEveryEpochs = Math.Max(1, epochs / options.Epochs) };
    }

    public static string Title(string arm) => arm switch
    {
        FineTuneCot => "Fine-tune-CoT (teacher data)",
        MentorKd => "Mentor-KD",
        NoSoftLabels => "Mentor-KD w/o soft labels",
        NoAugmentation => "Mentor-KD w/o augmentation",
        FineTuneCotStepMatched => "Fine-tune-CoT, Mentor-KD's step count",
        _ => arm,
    };
}
