using MentorKd.Distillation.Data;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Tokenization;

namespace MentorKd.Distillation.Pipeline;

/// <summary>The tokenizer every model of a run shares.</summary>
public static class RunTokenizer
{
    /// <summary>Built from what the models are trained on (training prompts and teacher targets); anything else is
    /// spelled in characters by the word tokenizer.</summary>
    public static ITokenizer Build(RunConfig config, IReadOnlyList<Question> train, IReadOnlyList<Rationale> teacherRationales)
    {
        var byId = train.ToDictionary(q => q.Id);
        var corpus = train.Select(CotFormat.Prompt)
            .Concat(teacherRationales.Where(r => byId.ContainsKey(r.QuestionId)).Select(r => CotFormat.Target(r.Text, byId[r.QuestionId].Answer)));
        return config.Tokenizer == "char" ? CharTokenizer.FromCorpus(corpus) : WordTokenizer.FromCorpus(corpus, minCount: 3);
    }
}
