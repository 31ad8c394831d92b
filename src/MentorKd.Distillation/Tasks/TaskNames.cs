namespace MentorKd.Distillation.Tasks;

/// <summary>Task names as the reference code spells them, plus our synthetic tasks.</summary>
public static class TaskNames
{
    public const string Gsm8k = "gsm8k";
    public const string Asdiv = "asdiv";
    public const string Svamp = "svamp";
    public const string AddSub = "addsub";
    public const string SingleEq = "single_eq";
    public const string CommonsenseQa = "commonsense_qa";
    public const string StrategyQa = "strategy_qa";
    public const string DateUnderstanding = "date_understanding";
    public const string LastLetterConcatenation = "last_letter_concatenation";
    public const string TrackingShuffledObjects = "tracking_shuffled_objects";
    public const string TrackingShuffledObjects5 = "tracking_shuffled_objects_5";
    public const string TrackingShuffledObjects7 = "tracking_shuffled_objects_7";
    public const string CoinFlip = "coin_flip";
    public const string Arithmetic = "arithmetic";

    public static readonly IReadOnlyList<string> All =
    [
        Gsm8k, Asdiv, Svamp, AddSub, SingleEq, CommonsenseQa, StrategyQa, DateUnderstanding, LastLetterConcatenation,
        TrackingShuffledObjects, TrackingShuffledObjects5, TrackingShuffledObjects7, CoinFlip, Arithmetic,
    ];
}
