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
