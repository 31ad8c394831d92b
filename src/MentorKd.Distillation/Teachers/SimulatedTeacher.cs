using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks;
using MentorKd.Distillation.Tasks.Synthetic;

namespace MentorKd.Distillation.Teachers;

/// <summary>
/// A stand-in for an LLM teacher on synthetic tasks: it solves the question step by step in one of several
/// phrasings and, with probability <paramref name="errorRate"/>, makes one plausible slip, so that answer
/// filtering has real work to do. Deterministic per (seed, question, sample). Always reported as simulated.
/// It also writes new problems for FDD: a harder variation of the given problem (its content and one more step) or a
/// similar one at its difficulty, answered by the task's exact solver, each with a rationale at the same error rate.
/// </summary>
public sealed class SimulatedTeacher(ISyntheticTask task, double errorRate, int seed) : ITeacher
{
    private readonly IAnswerRule _rule = AnswerRules.For(task.Name);

    public string Name => $"simulated-teacher(error-rate={errorRate:0.##})";

    public Task<IReadOnlyList<Rationale>> AnnotateAsync(Question question, int count, CancellationToken cancellationToken)
    {
        var rationales = new List<Rationale>(count);
        for (int sample = 0; sample < count; sample++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var random = new Random(StableHash.Of(question.Id, seed * 1000 + sample));
            bool mistake = random.NextDouble() < errorRate;
            var solved = task.Solve(question, random.Next(task.PhrasingCount), random, mistake);
            rationales.Add(new Rationale(question.Id, solved.Text, solved.Answer, _rule.IsCorrect(solved.Answer, question.Answer),
                RationaleSource.Teacher, Name, new SamplingSettings(Seed: seed)));
        }
        return Task.FromResult<IReadOnlyList<Rationale>>(rationales);
    }

    public async Task<SynthesisOutcome> SynthesizeAsync(Question original, SynthesisMode mode, int count, CancellationToken cancellationToken)
    {
        var (accepted, rejected) = (new List<SynthesizedProblem>(), new List<RejectedProblem>());
        for (int i = 0; i < count; i++)
        {
            var random = new Random(StableHash.Of(original.Id, seed * 1000 + 500 + 2 * i + (mode == SynthesisMode.Harder ? 0 : 1)));
            var id = SynthesisOutcome.IdOf(original, mode, i);
            var problem = mode == SynthesisMode.Harder ? task.Harder(original, random, id) : task.Generate(random, id, task.DifficultyOf(original));
            if (problem is null)
            {
                rejected.Add(new RejectedProblem(original.Id, mode, "", $"already at {task.Name}'s maximum difficulty ({task.MaxDifficulty})"));
                continue;
            }
            var rationale = (await AnnotateAsync(problem, 1, cancellationToken))[0];
            accepted.Add(new SynthesizedProblem(problem, original.Id, mode, rationale));
        }
        return new SynthesisOutcome(accepted, rejected);
    }
}
