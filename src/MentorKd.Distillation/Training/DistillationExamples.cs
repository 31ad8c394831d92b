using MentorKd.Distillation.Data;
using MentorKd.Modeling.Tokenization;
using MentorKd.Modeling.Training;

namespace MentorKd.Distillation.Training;

/// <summary>Turns correct rationales into token examples (prompt = question, target = "rationale --> gold" + end-of-text).</summary>
public static class DistillationExamples
{
    /// <returns>The examples, and how many rationales were too long for the context and left out.</returns>
    public static (IReadOnlyList<LanguageModelExample> Examples, int TooLong) Build(
        IEnumerable<Rationale> rationales, IReadOnlyDictionary<string, Question> questions, ITokenizer tokenizer, int contextLength)
    {
        var examples = new List<LanguageModelExample>();
        int tooLong = 0;
        foreach (var rationale in rationales.Where(r => r.Correct))
        {
            var question = questions[rationale.QuestionId];
            var example = new LanguageModelExample(
                tokenizer.Encode(CotFormat.Prompt(question)),
                [.. tokenizer.Encode(CotFormat.Target(rationale.Text, question.Answer)), tokenizer.EndOfTextId]);
            if (example.Length > contextLength) tooLong++;
            else examples.Add(example);
        }
        return (examples, tooLong);
    }
}
