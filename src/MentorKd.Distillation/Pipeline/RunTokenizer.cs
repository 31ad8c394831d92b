using MentorKd.Distillation.Data;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Checkpoints;
using MentorKd.Modeling.Tokenization;

namespace MentorKd.Distillation.Pipeline;

/// <summary>The tokenizer every model of a run shares.</summary>
public static class RunTokenizer
{
    public const string Word = "word", Char = "char", Pretrained = "pretrained";

    /// <summary>Built from what the models are trained on (training prompts and teacher targets); anything else is
    /// spelled in characters by the word tokenizer.</summary>
    public static ITokenizer Build(RunConfig config, IReadOnlyList<Question> train, IReadOnlyList<Rationale> teacherRationales)
    {
        var byId = train.ToDictionary(q => q.Id);
        var corpus = train.Select(CotFormat.Prompt)
            .Concat(teacherRationales.Where(r => byId.ContainsKey(r.QuestionId)).Select(r => CotFormat.Target(r.Text, byId[r.QuestionId].Answer)));
        return config.TokenizerKind == Char ? CharTokenizer.FromCorpus(corpus) : WordTokenizer.FromCorpus(corpus, minCount: 3);
    }

    /// <summary>The pretrained models' own tokenizer, from their local folders (either may be null: that model is trained
    /// from scratch with this tokenizer). With both, the student must read every id as the mentor does, or the mentor's
    /// soft labels would mean other tokens to it.</summary>
    public static ITokenizer FromPretrained(string? mentorFolder, string? studentFolder)
    {
        var mentor = mentorFolder is null ? null : Load(mentorFolder, "mentor.pretrained");
        var student = studentFolder is null ? null : Load(studentFolder, "student.pretrained");
        if (mentor is not null && student is not null && TokenizerVocabulary.FirstDifference(mentor, student) is { } difference)
            throw new ConfigException("student.pretrained", $"its tokenizer's vocabulary differs from the mentor's ({difference}): soft labels need the " +
                "mentor and the student to share one (models of one family usually do).");
        return mentor ?? student ?? throw new ArgumentException("neither model is pretrained.");
    }

    /// <summary>Soft labels are per decoder position, so a run whose students learn from them needs mentor and student of one
    /// kind: both decoder-only or both encoder-decoder. Model types are config.json's (null: a from-scratch GPT-2 model).</summary>
    public static void RequireOneKind(RunConfig config, string? mentorModelType, string? studentModelType)
    {
        if (!RunMethods.TrainsMentor(config.Method) || !config.Arms.Any(StudentArms.UsesSoftLabels)) return;
        bool mentorEncodes = ModelCheckpoints.IsEncoderDecoder(mentorModelType ?? "gpt2"), studentEncodes = ModelCheckpoints.IsEncoderDecoder(studentModelType ?? "gpt2");
        if (mentorEncodes != studentEncodes)
            throw new ConfigException(config.Student.Pretrained is null ? "student" : "student.pretrained",
                $"the mentor is {Kind(mentorEncodes, mentorModelType)} and the student {Kind(studentEncodes, studentModelType)}: the arms that learn from the mentor's " +
                "soft labels need both of one kind (an encoder-decoder's positions are the target's, a decoder-only model's the whole sequence's).");

        static string Kind(bool encoderDecoder, string? type) => $"{(encoderDecoder ? "an encoder-decoder" : "decoder-only")} ({type ?? "from scratch, gpt2"})";
    }

    private static ITokenizer Load(string folder, string field)
    {
        try { return TokenizerFiles.Load(folder); }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException)
        {
            throw new ConfigException(field, $"the tokenizer in '{folder}' does not load: {e.Message}");
        }
    }
}
