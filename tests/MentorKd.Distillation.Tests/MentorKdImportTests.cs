using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks;

namespace MentorKd.Distillation.Tests;

public class MentorKdImportTests
{
    [Theory]
    [InlineData("last_letter_concatenation", 350, 150, 1050, 1050, 1029)]
    [InlineData("tracking_shuffled_objects", 525, 225, 1536, 1575, 1392)]
    public void Import_counts_match_the_shared_files(string task, int train, int test, int teacherRows, int mentorRows, int mentorCorrect)
    {
        var questions = MentorKdJsonImport.ReadQuestions(SharedData.File($"{task}.train-questions.json"), task, "train");
        var testQuestions = MentorKdJsonImport.ReadQuestions(SharedData.File($"{task}.test.json"), task, "test");
        var rule = AnswerRules.For(task);
        var teacher = MentorKdJsonImport.ReadRationales(SharedData.File($"{task}.teacher.json"), questions, RationaleSource.Teacher, "gpt-3.5-turbo-instruct", rule.Extract);
        var mentor = MentorKdJsonImport.ReadRationales(SharedData.File($"{task}.flan-t5-large-mentor.json"), questions, RationaleSource.Mentor, "flan-t5-large", rule.Extract);

        Assert.Equal(train, questions.Count);
        Assert.Equal(test, testQuestions.Count);
        Assert.Equal(teacherRows, teacher.Count);
        Assert.All(teacher, r => Assert.True(r.Correct));
        Assert.Equal(mentorRows, mentor.Count);
        Assert.Equal(mentorCorrect, mentor.Count(r => r.Correct));
        Assert.Equal(questions.Count, questions.Select(q => q.Id).Distinct().Count());
    }

    [Fact]
    public void Recorded_mentor_completions_agree_with_our_answer_rule()
    {
        const string task = "last_letter_concatenation";
        var questions = MentorKdJsonImport.ReadQuestions(SharedData.File($"{task}.train-questions.json"), task, "train").ToDictionary(q => q.Id);
        var rule = AnswerRules.For(task);
        var mentor = MentorKdJsonImport.ReadRationales(SharedData.File($"{task}.flan-t5-large-mentor.json"), questions.Values.ToList(), RationaleSource.Mentor, "flan-t5-large", rule.Extract);
        // The file's initial_correct flags were computed by the reference evaluator; ours must reproduce them.
        Assert.All(mentor, r => Assert.Equal(r.Correct, rule.IsCorrect(rule.Extract(r.ExtractedAnswer), questions[r.QuestionId].Answer)));
    }

    [Fact]
    public void Jsonl_round_trips_rationales()
    {
        var path = Path.Combine(Path.GetTempPath(), $"rationales-{Guid.NewGuid():N}.jsonl");
        var rows = new[] { new Rationale("q1", "a b --> c", "c", true, RationaleSource.Mentor, "m", new SamplingSettings(0.7, 50, 1.0, 3)) };
        JsonLines.Write(path, rows);
        Assert.Equal(rows, JsonLines.Read<Rationale>(path));
    }
}
