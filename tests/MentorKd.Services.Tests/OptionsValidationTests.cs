using MentorKd.MentorServer.Extensions;
using MentorKd.TeacherGateway.Extensions;
using Microsoft.Extensions.Options;

namespace MentorKd.Services.Tests;

public class OptionsValidationTests
{
    [Theory]
    [InlineData("MentorServer:QueueCapacity", "0", "QueueCapacity")]
    [InlineData("ObjectStore:Kind", "ftp", "ObjectStore:Kind")]
    [InlineData("ObjectStore:Kind", "minio", "ObjectStore:Endpoint")]
    public async Task A_bad_setting_stops_the_host_at_start_naming_it(string key, string value, string named)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServiceHost.StartAsync(b => b.AddMentorServer(), a => a.MapMentorServer(),
            new Dictionary<string, string?> { [key] = value }));
        Assert.Contains(named, string.Join(" ", error.Failures));
    }

    [Fact]
    public async Task A_replay_teacher_without_its_file_is_rejected()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServiceHost.StartAsync(b => b.AddTeacherGateway(), a => a.MapTeacherGateway(),
            new Dictionary<string, string?> { ["TeacherGateway:Kind"] = "replay", ["TeacherGateway:ReplayFile"] = "/nonexistent/rationales.jsonl" }));
        Assert.Contains("ReplayFile", string.Join(" ", error.Failures));
    }
}
