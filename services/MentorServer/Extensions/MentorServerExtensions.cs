using MentorKd.ServiceDefaults;
using MentorKd.MentorServer.Grpc;
using MentorKd.MentorServer.OpenAi;

namespace MentorKd.MentorServer.Extensions;

/// <summary>Wiring of the mentor-server, shared by its own host and the embedded one.</summary>
public static class MentorServerExtensions
{
    public static IHostApplicationBuilder AddMentorServer(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<MentorServerOptions>("MentorServer");
        builder.Services.AddSingleton<MentorHost>();
        builder.Services.AddSingleton<OpenAiGeneration>();
        return builder;
    }

    public static WebApplication MapMentorServer(this WebApplication app)
    {
        app.MapGrpcService<MentorServerService>();
        app.MapOpenAiApi();
        return app;
    }
}
