using MentorKd.Distillation.Pipeline;
using MentorKd.Distillation.Tasks;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Teachers;

namespace MentorKd.Distillation.Tests;

public class SyntheticTaskTests
{
    public static TheoryData<string> Tasks => new(SyntheticTasks.Names);

    [Theory]
    [MemberData(nameof(Tasks))]
    public void A_careful_solver_reaches_the_gold_answer_in_every_phrasing(string name)
    {
        var task = SyntheticTasks.Get(name);
        var rule = AnswerRules.For(task.Name);
        var random = new Random(5);
        for (int difficulty = task.MinDifficulty; difficulty <= Math.Min(task.MaxDifficulty, task.MinDifficulty + 4); difficulty++)
            for (int i = 0; i < 20; i++)
            {
                var question = task.Generate(random, $"q{i}", difficulty);
                Assert.Equal(difficulty, question.Difficulty);
                for (int phrasing = 0; phrasing < task.PhrasingCount; phrasing++)
                {
                    var solved = task.Solve(question, phrasing, random, mistake: false);
                    Assert.True(rule.IsCorrect(rule.Extract($"{solved.Text} --> {solved.Answer}"), question.Answer), $"{question.Text}\n{solved.Text}");
                }
            }
    }

    [Theory]
    [MemberData(nameof(Tasks))]
    public void A_harder_variation_keeps_the_problems_content_adds_one_step_and_is_answered_by_the_exact_solver(string name)
    {
        var task = SyntheticTasks.Get(name);
        var rule = AnswerRules.For(task.Name);
        var random = new Random(8);
        for (int i = 0; i < 30; i++)
        {
            var original = task.Generate(random, $"q{i}", task.MinDifficulty + i % 3);
            var harder = task.Harder(original, random, $"q{i}~harder0")!;
            Assert.Equal(task.DifficultyOf(original) + 1, task.DifficultyOf(harder));
            Assert.Equal(task.DifficultyOf(harder), harder.Difficulty);
            Assert.Subset(Words(harder.Text), Words(original.Text)); // the original's people, words, numbers and steps are all still there
            var solved = task.Solve(harder, 0, random, mistake: false);
            Assert.True(rule.IsCorrect(solved.Answer, harder.Answer), $"{harder.Text}: solver {solved.Answer}, stated {harder.Answer}");
        }
        var hardest = task.Generate(random, "top", task.MaxDifficulty);
        Assert.Null(task.Harder(hardest, random, "top~harder0"));
    }

    [Theory]
    [MemberData(nameof(Tasks))]
    public void The_simulated_teacher_writes_new_problems_deterministically_per_seed_with_its_error_rate(string name)
    {
        var task = SyntheticTasks.Get(name);
        var originals = Enumerable.Range(0, 40).Select(i => task.Generate(new Random(i), $"q{i}", task.MinDifficulty)).ToList();
        var teacher = new SimulatedTeacher(task, errorRate: 0.3, seed: 3);
        foreach (var mode in new[] { SynthesisMode.Harder, SynthesisMode.Similar })
        {
            var written = originals.Select(q => teacher.SynthesizeAsync(q, mode, 2, CancellationToken.None).Result).ToList();
            var again = originals.Select(q => new SimulatedTeacher(task, 0.3, 3).SynthesizeAsync(q, mode, 2, CancellationToken.None).Result).ToList();
            var problems = written.SelectMany(o => o.Accepted).ToList();
            Assert.Equal(80, problems.Count);
            Assert.Equal(problems.Select(p => (p.Question.Text, p.Rationale.Text)), again.SelectMany(o => o.Accepted).Select(p => (p.Question.Text, p.Rationale.Text)));
            Assert.All(problems, p => Assert.Equal($"{p.DerivedFrom}~{mode.ToString().ToLowerInvariant()}", p.Question.Id[..^1]));
            int expected = mode == SynthesisMode.Harder ? task.MinDifficulty + 1 : task.MinDifficulty;
            Assert.All(problems, p => Assert.Equal(expected, task.DifficultyOf(p.Question)));
            Assert.All(problems, p => Assert.NotEqual(originals.Single(q => q.Id == p.DerivedFrom).Text, p.Question.Text));
            // Its rationales slip at its error rate, judged against the exact solver's answer.
            int wrong = problems.Count(p => !p.Rationale.Correct);
            Assert.InRange(wrong, 4, 45);
        }
    }

    private static HashSet<string> Words(string text) => text.Split([' ', '.', ',', '"', '?', ':', '(', ')'], StringSplitOptions.RemoveEmptyEntries).ToHashSet();

    [Theory]
    [MemberData(nameof(Tasks))]
    public void Mistakes_often_change_the_answer(string name)
    {
        var task = SyntheticTasks.Get(name);
        var random = new Random(6);
        int wrong = 0;
        for (int i = 0; i < 200; i++)
        {
            var question = task.Generate(random, $"q{i}", task.DefaultDifficulty);
            if (!AnswerRules.For(task.Name).IsCorrect(task.Solve(question, i, random, mistake: true).Answer, question.Answer)) wrong++;
        }
        // A slip can leave the answer right (a missed swap between players the question does not ask about),
        // so the share varies by task; it must still show often enough for filtering to matter.
        Assert.InRange(wrong, 40, 200);
    }

    [Fact]
    public void Generators_are_seeded_and_difficulty_lengthens_questions()
    {
        var task = new ArithmeticTask();
        var a = task.Generate(new Random(9), "x", 3);
        var b = task.Generate(new Random(9), "x", 3);
        Assert.Equal(a, b);
        Assert.True(task.Generate(new Random(9), "x", 6).Text.Length > task.Generate(new Random(9), "x", 2).Text.Length);
    }

    [Fact]
    public void A_difficulty_range_mixes_every_difficulty_in_it_and_a_fixed_difficulty_keeps_its_sets()
    {
        var config = new RunConfig { Task = new TaskConfig { Name = TaskNames.Arithmetic, TrainQuestions = 600, DevQuestions = 50, TestQuestions = 300, DifficultyRange = [2, 6] } };
        RunConfigValidator.Validate(config);
        var splits = DatasetPreparation.Prepare(config);
        var task = new ArithmeticTask();
        foreach (var split in new[] { splits.Train, splits.Test })
        {
            var counts = split.GroupBy(q => task.DifficultyOf(q)).ToDictionary(g => g.Key, g => g.Count());
            Assert.Equal([2, 3, 4, 5, 6], counts.Keys.Order());
            Assert.All(counts.Values, c => Assert.InRange(c, split.Count / 5 * 0.6, split.Count / 5 * 1.4));
            Assert.All(split, q => Assert.Equal(task.DifficultyOf(q), q.Difficulty));
        }
        Assert.Equal(splits, DatasetPreparation.Prepare(config), new SplitsComparer());

        var fixedDifficulty = DatasetPreparation.Prepare(config with { Task = config.Task with { DifficultyRange = null, Difficulty = 4 } });
        Assert.All(fixedDifficulty.Train, q => Assert.Equal(4, q.Difficulty));
    }

    private sealed class SplitsComparer : IEqualityComparer<DatasetPreparation.Splits>
    {
        public bool Equals(DatasetPreparation.Splits? x, DatasetPreparation.Splits? y) =>
            x!.Train.SequenceEqual(y!.Train) && x.Dev.SequenceEqual(y.Dev) && x.Test.SequenceEqual(y.Test);

        public int GetHashCode(DatasetPreparation.Splits obj) => obj.Train.Count;
    }

    [Fact]
    public async Task Simulated_teacher_errs_at_about_its_rate_and_is_deterministic()
    {
        var task = new CoinFlipTask();
        var teacher = new SimulatedTeacher(task, errorRate: 0.3, seed: 1);
        var random = new Random(2);
        var questions = Enumerable.Range(0, 400).Select(i => task.Generate(random, $"q{i}", 5)).ToList();
        int correct = 0;
        foreach (var q in questions) correct += (await teacher.AnnotateAsync(q, 1, CancellationToken.None)).Count(r => r.Correct);
        Assert.InRange(correct / 400.0, 0.62, 0.78); // 0.7 ± noise
        Assert.Equal(await teacher.AnnotateAsync(questions[0], 3, CancellationToken.None), await teacher.AnnotateAsync(questions[0], 3, CancellationToken.None));
        Assert.Contains("simulated", teacher.Name);
    }
}
