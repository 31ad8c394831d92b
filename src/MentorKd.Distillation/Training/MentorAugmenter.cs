using MentorKd.Distillation.Data;
using MentorKd.Distillation.Evaluation;
using MentorKd.Distillation.Tasks;
using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;

namespace MentorKd.Distillation.Training;

/// <summary>
/// Mentor-KD step 2.2: the fine-tuned mentor samples several rationales for every training question
/// (temperature 0.7, top-k 50 by default); each is judged against gold. Duplicates are kept, as in the reference.
/// </summary>
public static class MentorAugmenter
{
    public static IReadOnlyList<Rationale> Augment(LanguageModel mentor, ITokenizer tokenizer, IReadOnlyList<Question> questions,
        GenerationOptions sampling, int batchSize, string producer, Action<int>? progress = null)
    {
        var outputs = BatchedDecoding.Run(mentor, tokenizer, questions, sampling, batchSize, progress);
        var settings = new SamplingSettings(sampling.Temperature, sampling.TopK, sampling.TopP, sampling.Seed);
        var rationales = new List<Rationale>();
        for (int i = 0; i < questions.Count; i++)
        {
            var rule = AnswerRules.For(questions[i].Task);
            foreach (var output in outputs[i])
            {
                var predicted = rule.Extract(output);
                rationales.Add(new Rationale(questions[i].Id, CotFormat.RationaleOf(output), predicted,
                    rule.IsCorrect(predicted, questions[i].Answer), RationaleSource.Mentor, producer, settings));
            }
        }
        return rationales;
    }
}
