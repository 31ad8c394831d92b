using MentorKd.TeacherGateway.Grpc;

namespace MentorKd.TeacherGateway.Extensions;

/// <summary>Wiring of the teacher-gateway, shared by its own host and the embedded one.</summary>
public static class TeacherGatewayExtensions
{
    public static IHostApplicationBuilder AddTeacherGateway(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TeacherGatewayOptions>().BindConfiguration("TeacherGateway").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<TeacherDirectory>();
        builder.Services.AddSingleton<TeacherUsage>();
        return builder;
    }

    public static WebApplication MapTeacherGateway(this WebApplication app)
    {
        app.MapGrpcService<TeacherGatewayService>();
        return app;
    }
}
