using MassTransit;
using MentorKd.ServiceDefaults;
using MentorKd.Evaluator.Grpc;

namespace MentorKd.Evaluator.Extensions;

/// <summary>Wiring of the evaluator, shared by its own host and the embedded one.</summary>
public static class EvaluatorExtensions
{
    public static IHostApplicationBuilder AddEvaluator(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<EvaluatorOptions>("Evaluator");
        builder.Services.AddSingleton<CheckpointUnderTest>();
        builder.Services.AddSingleton<CheckpointEvaluation>();
        return builder;
    }

    /// <summary>What the evaluator takes from the broker: evaluations from the replicas' shared queue.</summary>
    public static void AddEvaluatorMessaging(this IBusRegistrationConfigurator bus) =>
        bus.AddConsumer<EvaluateCheckpointConsumer, EvaluateCheckpointConsumerDefinition>();

    public static WebApplication MapEvaluator(this WebApplication app)
    {
        app.MapGrpcService<EvaluatorService>();
        return app;
    }
}
