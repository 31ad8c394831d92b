using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks;
using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;

namespace MentorKd.Distillation.Evaluation;

/// <summary>Greedy decoding (or sampled answers), per-task answer extraction, exact-match accuracy (reference §1.8).</summary>
public static class Evaluator
{
    /// <param name="sampling">Null: one greedy answer per question. Otherwise several sampled answers, and a question
    /// counts as correct when at least half of them are right.</param>
    public static EvaluationResult Evaluate(LanguageModel model, ITokenizer tokenizer, IReadOnlyList<Question> questions,
        int maxNewTokens, int batchSize, AnswerSampling? sampling = null, Action<int>? progress = null)
    {
        if (questions.Count == 0) return new EvaluationResult(0, 0, 0, []);
        var options = sampling is null
            ? GenerationOptions.Greedy(maxNewTokens)
            : new GenerationOptions { MaxNewTokens = maxNewTokens, Temperature = sampling.Temperature, SamplesPerPrompt = sampling.Samples, Seed = sampling.Seed };
        var outputs = BatchedDecoding.Run(model, tokenizer, questions, options, batchSize, progress);
        var examples = new List<EvaluatedExample>(questions.Count);
        for (int i = 0; i < questions.Count; i++)
        {
            var (question, rule) = (questions[i], AnswerRules.For(questions[i].Task));
            var predictions = outputs[i].Select(rule.Extract).ToList();
            int right = predictions.Count(p => rule.IsCorrect(p, question.Answer));
            examples.Add(new EvaluatedExample(question.Id, question.Text, question.Answer, outputs[i][0], predictions[0], 2 * right >= predictions.Count && right > 0,
                predictions.Count, right));
        }
        int correct = examples.Count(e => e.Correct);
        return new EvaluationResult((double)correct / examples.Count, correct, examples.Count, examples);
    }
}
