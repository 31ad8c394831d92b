using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks;
using MentorKd.Modeling.Generation;
using MentorKd.Modeling.Model;
using MentorKd.Modeling.Tokenization;

namespace MentorKd.Distillation.Evaluation;

/// <summary>Greedy decoding, per-task answer extraction, exact-match accuracy (reference §1.8).</summary>
public static class Evaluator
{
    public static EvaluationResult Evaluate(GptLanguageModel model, ITokenizer tokenizer, IReadOnlyList<Question> questions,
        int maxNewTokens, int batchSize, Action<int>? progress = null)
    {
        if (questions.Count == 0) return new EvaluationResult(0, 0, 0, []);
        var outputs = BatchedDecoding.Run(model, tokenizer, questions, GenerationOptions.Greedy(maxNewTokens), batchSize, progress);
        var examples = new List<EvaluatedExample>(questions.Count);
        for (int i = 0; i < questions.Count; i++)
        {
            var rule = AnswerRules.For(questions[i].Task);
            var output = outputs[i][0];
            var predicted = rule.Extract(output);
            examples.Add(new EvaluatedExample(questions[i].Id, questions[i].Text, questions[i].Answer, output, predicted, rule.IsCorrect(predicted, questions[i].Answer)));
        }
        int correct = examples.Count(e => e.Correct);
        return new EvaluationResult((double)correct / examples.Count, correct, examples.Count, examples);
    }
}
