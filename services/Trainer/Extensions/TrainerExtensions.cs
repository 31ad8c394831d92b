using MassTransit;
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
        builder.Services.AddSingleton<TrainingJobLedger>();
        builder.Services.AddSingleton<TrainingJobLeases>();
        builder.Services.AddSingleton<RunningJobs>();
        builder.Services.AddSingleton<TrainingJobCancellation>();
        builder.Services.AddSingleton<TrainingThreadShare>();
        builder.Services.AddSingleton<TrainingSliceExecutor>();
        return builder;
    }

    /// <summary>What the trainer takes from the broker: training jobs from the replicas' shared queue, and cancellations.</summary>
    public static void AddTrainerMessaging(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<TrainModelConsumer, TrainModelConsumerDefinition>();
        bus.AddConsumer<CancelTrainingJobConsumer, CancelTrainingJobConsumerDefinition>();
    }

    public static WebApplication MapTrainer(this WebApplication app)
    {
        app.MapGrpcService<TrainerService>();
        return app;
    }
}
