using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks.Synthetic;

namespace MentorKd.Distillation.Pipeline;

/// <summary>Train / dev / test questions: generated (disjoint by text, seeded) or imported from Mentor-KD files with a dev split carved from train.</summary>
public static class DatasetPreparation
{
    public sealed record Splits(IReadOnlyList<Question> Train, IReadOnlyList<Question> Dev, IReadOnlyList<Question> Test);

    /// <summary>The teacher sees a seeded subset of the training questions: scarce teacher data is the setting Mentor-KD is for.</summary>
    public static IReadOnlyList<Question> TeacherQuestions(RunConfig config, IReadOnlyList<Question> train)
    {
        var order = train.ToArray();
        new Random(config.Seed + 17).Shuffle(order);
        return order.Take(config.Teacher.AnnotatedQuestions ?? order.Length).ToList();
    }

    public static Splits Prepare(RunConfig config)
    {
        var task = config.Task;
        if (task.Source == "synthetic")
        {
            var generator = SyntheticTasks.Get(task.Name);
            var random = new Random(config.Seed);
            var seen = new HashSet<string>();
            int difficulty = task.Difficulty ?? generator.DefaultDifficulty;
            // A range draws each question's difficulty first (a fixed difficulty draws nothing, so its sets stay as they were).
            int NextDifficulty() => task.DifficultyRange is [var min, var max] ? random.Next(min, max + 1) : difficulty;
            List<Question> Draw(string split, int count)
            {
                var questions = new List<Question>(count);
                for (int attempts = 0; questions.Count < count; attempts++)
                {
                    if (attempts > count * 50) throw new InvalidOperationException($"task {task.Name} at difficulty {(task.DifficultyRange is { } r ? $"{r[0]}..{r[1]}" : difficulty)} cannot produce {count} distinct {split} questions.");
                    var question = generator.Generate(random, $"{split}-{questions.Count:D5}", NextDifficulty());
                    if (seen.Add(question.Text)) questions.Add(question);
                }
                return questions;
            }
            // Test first, so the test set does not change when the training-set size does.
            var test = Draw("test", task.TestQuestions);
            var dev = Draw("dev", task.DevQuestions);
            var train = Draw("train", task.TrainQuestions);
            return new Splits(train, dev, test);
        }

        var files = task.Files!;
        var all = MentorKdJsonImport.ReadQuestions(config.ResolvePath(files.TrainQuestions!), task.Name, "train");
        var testQuestions = MentorKdJsonImport.ReadQuestions(config.ResolvePath(files.Test!), task.Name, "test");
        var order = Enumerable.Range(0, all.Count).ToArray();
        new Random(config.Seed).Shuffle(order);
        int devCount = Math.Max(1, (int)Math.Round(all.Count * files.DevShare));
        var devSet = order.Take(devCount).ToHashSet();
        return new Splits(
            all.Where((_, i) => !devSet.Contains(i)).ToList(),
            all.Where((_, i) => devSet.Contains(i)).ToList(),
            testQuestions);
    }
}
