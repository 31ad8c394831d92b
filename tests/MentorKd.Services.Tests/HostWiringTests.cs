using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using MentorKd.Augmentation.Extensions;
using MentorKd.Evaluator.Extensions;
using MentorKd.MentorServer.Extensions;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.TeacherGateway.Extensions;
using MentorKd.Trainer.Extensions;
using Microsoft.AspNetCore.Builder;

namespace MentorKd.Services.Tests;

public class HostWiringTests
{
    public static TheoryData<string> Hosts => new(["teacher-gateway", "mentor-server", "trainer", "evaluator", "augmentation"]);

    // The same calls as each service's Program.cs.
    private static (Action<WebApplicationBuilder> Add, Action<WebApplication> Map, string[] Services) Wiring(string host) => host switch
    {
        "teacher-gateway" => (b => b.AddTeacherGateway().AddMessaging(bus => bus.AddTeacherGatewayMessaging()), a => a.MapTeacherGateway(), ["mentorkd.v1.TeacherGateway"]),
        "mentor-server" => (b => b.AddMentorServer(), a => a.MapMentorServer(), ["mentorkd.v1.MentorServer"]),
        "trainer" => (b => b.AddTrainer().AddMessaging(bus => bus.AddTrainerMessaging()), a => a.MapTrainer(), ["mentorkd.v1.Trainer"]),
        "evaluator" => (b => b.AddEvaluator().AddMessaging(bus => bus.AddEvaluatorMessaging()), a => a.MapEvaluator(), ["mentorkd.v1.Evaluator"]),
        _ => (b => b.AddAugmentation().AddMessaging(bus => bus.AddAugmentationMessaging()), a => a.MapAugmentation(), ["mentorkd.v1.Datasets", "mentorkd.v1.Runs"]),
    };

    [Theory]
    [MemberData(nameof(Hosts))]
    public async Task Every_host_reports_healthy_and_lists_its_service_through_reflection(string name)
    {
        var (add, map, expected) = Wiring(name);
        await using var host = await TestServiceHost.StartAsync(add, map);

        var health = await new Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        using var reflection = new ServerReflection.ServerReflectionClient(host.Channel).ServerReflectionInfo();
        await reflection.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await reflection.RequestStream.CompleteAsync();
        Assert.True(await reflection.ResponseStream.MoveNext(CancellationToken.None));
        var services = reflection.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.All(expected, service => Assert.Contains(service, services));
        Assert.Contains("grpc.health.v1.Health", services);
    }
}
