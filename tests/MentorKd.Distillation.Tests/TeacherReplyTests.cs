using MentorKd.Distillation.Data;
using MentorKd.Distillation.Tasks;
using MentorKd.Distillation.Teachers;

namespace MentorKd.Distillation.Tests;

/// <summary>An LLM teacher's free-text reply, read into rationale --> answer and judged by the task's rule.</summary>
public class TeacherReplyTests
{
    [Fact]
    public void A_zero_shot_reply_gives_its_last_stated_answer_found_by_the_tasks_rule()
    {
        var reply = TeacherReplies.Read("First 12 + 7 = 19 apples. Then she gives away 4, so 19 - 4 = 15. The answer is 15 apples.", TaskNames.Svamp);
        Assert.Null(reply.Problem);
        Assert.Equal("15", reply.Answer);
        Assert.StartsWith("First 12 + 7", reply.Rationale);

        // Numbers after the statement count, not the ones in the reasoning before it; the last statement wins.
        var revised = TeacherReplies.Read("The answer is 3. Wait, 2 + 2 = 4, so the final answer is 4.", TaskNames.Svamp);
        Assert.Equal("4", revised.Answer);
    }

    [Fact]
    public void A_reply_in_the_platforms_own_form_splits_at_the_marker()
    {
        var reply = TeacherReplies.Read(" The coin starts heads up. Ann flips it: tails. --> no", TaskNames.CoinFlip);
        Assert.Equal("The coin starts heads up. Ann flips it: tails.", reply.Rationale);
        Assert.Equal("no", reply.Answer);
        Assert.Null(reply.Problem);
    }

    [Theory]
    [InlineData("", "empty reply")]
    [InlineData("   ", "empty reply")]
    [InlineData("I'm sorry, but I can't help with that.", "refusal")]
    [InlineData("Ann flips the coin, then Bob flips it.", "no answer statement")]
    [InlineData("--> yes", "no rationale before the answer marker")]
    public void Replies_that_give_no_usable_rationale_are_kept_as_problems_and_judged_wrong(string text, string problem)
    {
        var reply = TeacherReplies.Read(text, TaskNames.CoinFlip);
        Assert.NotNull(reply.Problem);
        Assert.StartsWith(problem, reply.Problem);
        var question = new Question("q1", TaskNames.CoinFlip, "A coin is heads up. Is it still heads up?", "yes");
        Assert.False(TeacherReplies.Judge(question, reply, "teacher", null).Correct);
    }

    [Fact]
    public void A_usable_reply_is_judged_against_gold()
    {
        var question = new Question("q1", TaskNames.CoinFlip, "A coin is heads up. Ann flips the coin. Is it still heads up?", "no");
        var right = TeacherReplies.Judge(question, TeacherReplies.Read("Ann flips it, so it is tails. So the answer is no.", question.Task), "t", null);
        var wrong = TeacherReplies.Judge(question, TeacherReplies.Read("Nobody flips it. So the answer is yes.", question.Task), "t", null);
        Assert.True(right.Correct);
        Assert.False(wrong.Correct);
        Assert.Equal(RationaleSource.Teacher, right.Source);
    }

    [Theory]
    [InlineData("Problem: A coin is heads up. Ann flips the coin. Is it still heads up?", "A coin is heads up. Ann flips the coin. Is it still heads up?")]
    [InlineData("Sure! Here is a harder one.\n\n**New problem:** Sam has 4 apples. Then Sam buys 2 more. How many apples does Sam have now?\n\n**Answer:** 6",
        "Sam has 4 apples. Then Sam buys 2 more. How many apples does Sam have now?")]
    [InlineData("Question: \"Take the last letters of each words in \"Ada Bob\" and concatenate them.\"\nSolution: ab",
        "Take the last letters of each words in \"Ada Bob\" and concatenate them.")]
    [InlineData("A coin is heads up. Nobody flips it. Is it heads up?", "A coin is heads up. Nobody flips it. Is it heads up?")]
    public void A_written_problem_is_read_after_its_label_and_before_any_answer(string reply, string problem) =>
        Assert.Equal(problem, TeacherReplies.ReadProblem(reply));

    [Theory]
    [InlineData("")]
    [InlineData("Problem:")]
    [InlineData("I'm sorry, but I can't help with that.")]
    public void A_reply_without_a_problem_gives_none(string reply) => Assert.Null(TeacherReplies.ReadProblem(reply));
}
