using MassTransit;
using MentorKd.ServiceDefaults;
using MentorKd.TeacherGateway.Grpc;
using MentorKd.TeacherGateway.OpenAi;

namespace MentorKd.TeacherGateway.Extensions;

/// <summary>Wiring of the teacher-gateway, shared by its own host and the embedded one.</summary>
public static class TeacherGatewayExtensions
{
    public static IHostApplicationBuilder AddTeacherGateway(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<TeacherGatewayOptions>("TeacherGateway")
            .Validate(o => o.Kind != "replay" || File.Exists(o.ReplayFile), "TeacherGateway:ReplayFile must name an existing JSONL file for the replay teacher.");
        builder.Services.AddSingleton<TeacherCallLedger>();
        builder.Services.AddSingleton<TeacherDirectory>();
        builder.Services.AddHostedService<TeachersStartupCheck>();
        builder.Services.AddSingleton<TeacherUsage>();
        builder.Services.AddSingleton<QuestionAnnotation>();
        builder.Services.AddSingleton<QuestionSynthesis>();
        return builder;
    }

    /// <summary>What the teacher-gateway takes from the broker: annotations and syntheses from the replicas' shared queues.</summary>
    public static void AddTeacherGatewayMessaging(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<AnnotateQuestionsConsumer, AnnotateQuestionsConsumerDefinition>();
        bus.AddConsumer<SynthesizeProblemsConsumer, SynthesizeProblemsConsumerDefinition>();
    }

    public static WebApplication MapTeacherGateway(this WebApplication app)
    {
        app.MapGrpcService<TeacherGatewayService>();
        return app;
    }
}
