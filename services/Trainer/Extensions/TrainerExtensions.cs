using MentorKd.ServiceDefaults;
using MentorKd.Trainer.Grpc;
using MentorKd.Trainer.Jobs;

namespace MentorKd.Trainer.Extensions;

/// <summary>Wiring of the trainer, shared by its own host and the embedded one.</summary>
public static class TrainerExtensions
{
    public static IHostApplicationBuilder AddTrainer(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<TrainerOptions>("Trainer");
        builder.Services.AddSingleton(provider => provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<TrainerOptions>>().Value);
        builder.Services.AddSingleton<TrainingJobQueue>();
        builder.Services.AddHostedService<TrainingJobRunner>();
        return builder;
    }

    public static WebApplication MapTrainer(this WebApplication app)
    {
        app.MapGrpcService<TrainerService>();
        return app;
    }
}
