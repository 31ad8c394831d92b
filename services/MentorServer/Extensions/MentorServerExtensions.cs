using MentorKd.ServiceDefaults;
using MentorKd.MentorServer.Grpc;

namespace MentorKd.MentorServer.Extensions;

/// <summary>Wiring of the mentor-server, shared by its own host and the embedded one.</summary>
public static class MentorServerExtensions
{
    public static IHostApplicationBuilder AddMentorServer(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<MentorServerOptions>("MentorServer");
        builder.Services.AddSingleton<MentorHost>();
        return builder;
    }

    public static WebApplication MapMentorServer(this WebApplication app)
    {
        app.MapGrpcService<MentorServerService>();
        return app;
    }
}
