using MentorKd.Distillation.Tasks;

namespace MentorKd.Distillation.Tests;

public class AnswerRuleTests
{
    [Theory]
    [InlineData(TaskNames.Gsm8k, "She has 1,200 apples, then 18 more --> 1,218 and 5", "1218")]
    [InlineData(TaskNames.Gsm8k, "First 3 then 4 so 7", "7")]
    [InlineData(TaskNames.Gsm8k, "no numbers here ", "no numbers here ")]
    [InlineData(TaskNames.Gsm8k, "First 3 then 4 --> seven", " seven")]
    [InlineData(TaskNames.StrategyQa, "Yes, it could --> perhaps", " perhaps")]
    [InlineData(TaskNames.CommonsenseQa, "A or B --> none", " none")]
    [InlineData(TaskNames.Svamp, "x is -3.5 --> -3.50", "-3.50")]
    [InlineData(TaskNames.CommonsenseQa, "Because A bank is near --> B. library", "B")]
    [InlineData(TaskNames.CommonsenseQa, "The answer is Cat, I think E", "E")]
    [InlineData(TaskNames.DateUnderstanding, "The date is (F) 01/02 --> (F)", "F")]
    [InlineData(TaskNames.TrackingShuffledObjects, "Dave has it. --> (B) white ball", "B")]
    [InlineData(TaskNames.TrackingShuffledObjects, "Claire ends with the ball", "C")]
    [InlineData(TaskNames.StrategyQa, "Yes, it could. But no. --> No.", "no")]
    [InlineData(TaskNames.StrategyQa, "Is it? YES: it is", "yes")]
    [InlineData(TaskNames.LastLetterConcatenation, "a b c --> \"Yajc\".", "Yajc")]
    [InlineData(TaskNames.LastLetterConcatenation, "so it's y a j c.", "soitsyajc")]
    [InlineData(TaskNames.LastLetterConcatenation, "y a j c --> \".\"", "")]
    [InlineData(TaskNames.CoinFlip, "flips twice, heads up --> yes", "yes")]
    public void Extracts_the_reference_candidate(string task, string output, string expected) =>
        Assert.Equal(expected, AnswerRules.For(task).Extract(output));

    [Fact]
    public void Gsm8k_compares_strings_so_a_trailing_zero_is_wrong()
    {
        Assert.False(AnswerRules.For(TaskNames.Gsm8k).IsCorrect("18.0", "18"));
        Assert.True(AnswerRules.For(TaskNames.Gsm8k).IsCorrect("1218", "1,218"));
    }

    [Fact]
    public void Tolerant_numeric_rule_compares_floats()
    {
        var rule = AnswerRules.For(TaskNames.Svamp);
        Assert.True(rule.IsCorrect("18.0", "18"));
        Assert.True(rule.IsCorrect("-3.50", "-3.5"));
        Assert.False(rule.IsCorrect("18.01", "18"));
        Assert.False(rule.IsCorrect("eighteen", "18"));
        Assert.True(AnswerRules.For(TaskNames.Arithmetic).IsCorrect(AnswerRules.For(TaskNames.Arithmetic).Extract("7 + 5 = 12. --> 12"), "12"));
    }

    [Fact]
    public void Commonsense_gold_is_the_first_letter_and_last_letters_ignore_case()
    {
        Assert.True(AnswerRules.For(TaskNames.CommonsenseQa).IsCorrect("A", "A. ignore"));
        Assert.True(AnswerRules.For(TaskNames.LastLetterConcatenation).IsCorrect("YAJC", "yajc"));
        Assert.True(AnswerRules.For(TaskNames.StrategyQa).IsCorrect("yes", "Yes"));
    }

    [Fact]
    public void Unknown_task_is_named()
    {
        var error = Assert.Throws<ArgumentException>(() => AnswerRules.For("chess"));
        Assert.Contains("chess", error.Message);
    }
}
