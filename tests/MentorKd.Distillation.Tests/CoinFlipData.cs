using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks.Synthetic;
using MentorKd.Distillation.Teachers;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Tokenization;
using MentorKd.Modeling.Training;

namespace MentorKd.Distillation.Tests;

/// <summary>Coin-flip questions with two people, the simulated teacher's (always right) rationales for the first
/// <c>trainCount</c>, a word tokenizer over all of them, and those rationales as training examples.</summary>
internal sealed record CoinFlipData(List<Question> Questions, WordTokenizer Tokenizer, IReadOnlyList<LanguageModelExample> Examples)
{
    public static async Task<CoinFlipData> CreateAsync(int seed, int count, int trainCount, int contextLength)
    {
        var task = new CoinFlipTask();
        var random = new Random(seed);
        var questions = Enumerable.Range(0, count).Select(i => task.Generate(random, $"q{i}", 2)).ToList();
        var teacher = new SimulatedTeacher(task, 0, 1);
        var rationales = new List<Rationale>();
        foreach (var q in questions.Take(trainCount)) rationales.AddRange(await teacher.AnnotateAsync(q, 1, CancellationToken.None));
        var tokenizer = WordTokenizer.FromCorpus(questions.Select(CotFormat.Prompt).Concat(rationales.Select(r => r.Text)));
        var (examples, _) = DistillationExamples.Build(rationales, questions.ToDictionary(q => q.Id), tokenizer, contextLength);
        return new CoinFlipData(questions, tokenizer, examples);
    }
}
