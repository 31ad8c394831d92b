namespace MentorKd.Distillation.Tasks.Synthetic;

/// <summary>The built-in generators by task name.</summary>
public static class SyntheticTasks
{
    private static readonly Dictionary<string, Func<ISyntheticTask>> Factories = new()
    {
        [TaskNames.LastLetterConcatenation] = () => new LastLetterTask(),
        [TaskNames.CoinFlip] = () => new CoinFlipTask(),
        [TaskNames.TrackingShuffledObjects] = () => new TrackingShuffledObjectsTask(3),
        [TaskNames.TrackingShuffledObjects5] = () => new TrackingShuffledObjectsTask(5),
        [TaskNames.TrackingShuffledObjects7] = () => new TrackingShuffledObjectsTask(7),
        [TaskNames.Arithmetic] = () => new ArithmeticTask(),
    };

    public static IReadOnlyCollection<string> Names => Factories.Keys;

    public static bool TryGet(string task, out ISyntheticTask generator)
    {
        var found = Factories.TryGetValue(task, out var factory);
        generator = found ? factory!() : null!;
        return found;
    }

    public static ISyntheticTask Get(string task) => TryGet(task, out var generator)
        ? generator
        : throw new ArgumentException($"no generator for task '{task}' (synthetic tasks: {string.Join(", ", Factories.Keys)}).", nameof(task));
}
