using MentorKd.Distillation.Data;

namespace MentorKd.Distillation.Tests;

/// <summary>Rows a client may have written are read within bounds: a line's length and its nesting.</summary>
public class JsonLinesTests
{
    private const string Row = """{"id": "q1", "task": "coin_flip", "text": "t", "answer": "yes"}""";

    [Fact]
    public void A_line_longer_than_a_row_may_be_is_refused_naming_its_line()
    {
        var longLine = "{\"id\": \"q2\", \"task\": \"coin_flip\", \"text\": \"" + new string('a', JsonLines.MaxLineChars) + "\", \"answer\": \"no\"}";
        var error = Assert.Throws<InvalidDataException>(() => JsonLines.Parse<Question>([Row, longLine], "upload.jsonl"));
        Assert.StartsWith("upload.jsonl:2: a line of 1,000,0", error.Message);
    }

    [Fact]
    public void Nesting_deeper_than_a_record_is_refused_as_malformed_and_a_plain_row_reads()
    {
        var deep = Row[..^1] + ", \"extra\": " + new string('[', 64) + new string(']', 64) + "}";
        var error = Assert.Throws<InvalidDataException>(() => JsonLines.Parse<Question>([deep], "upload.jsonl"));
        Assert.Contains("upload.jsonl:1: not a valid Question", error.Message);
        Assert.Contains("depth", error.Message);
        Assert.Equal("q1", JsonLines.Parse<Question>([Row], "upload.jsonl").Single().Id);
    }
}
