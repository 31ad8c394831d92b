using Grpc.Net.ClientFactory;
using MassTransit;
using MentorKd.Augmentation.Datasets;
using MentorKd.Augmentation.Grpc;
using MentorKd.Augmentation.Runs;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Security;
using Microsoft.Extensions.Options;

namespace MentorKd.Augmentation.Extensions;

/// <summary>Wiring of the augmentation service, shared by its own host and the embedded one.</summary>
public static class AugmentationExtensions
{
    public static IHostApplicationBuilder AddAugmentation(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<AugmentationOptions>("Augmentation");
        builder.Services.AddSingleton<DatasetRegistry>();
        builder.Services.AddSingleton<DatasetAugmenter>();
        builder.Services.AddSingleton<RunFeeds>();
        builder.Services.AddSingleton<RunSteps>();
        builder.Services.AddSingleton<PretrainedModels>();
        builder.Services.AddSingleton<RunReportWriter>();
        builder.Services.AddSingleton<UnfinishedRuns>();
        builder.Services.AddSingleton<RunOwners>();
        builder.Services.AddHostedService<UnfinishedRunsRecovery>();
        AddClient<Protos.V1.MentorServer.MentorServerClient>(builder.Services, o => o.MentorServerAddress);
        return builder;
    }

    /// <summary>What the augmentation service brings to the host's bus: the run state machine (which drives every run
    /// by the other services' queues and events), bucket notifications, and its own work queue.</summary>
    public static void AddAugmentationMessaging(this IBusRegistrationConfigurator bus)
    {
        bus.AddSagaStateMachine<RunStateMachine, RunState>().InMemoryRepository();
        bus.AddConsumer<BucketNotificationConsumer, BucketNotificationConsumerDefinition>();
        bus.AddConsumer<AugmentQuestionsConsumer, AugmentQuestionsConsumerDefinition>();
    }

    public static WebApplication MapAugmentation(this WebApplication app)
    {
        app.MapGrpcService<DatasetsService>();
        app.MapGrpcService<RunsService>();
        return app;
    }

    // Cancelling a call surfaces as OperationCanceledException, the same as every other cancelled step of a run.
    private static void AddClient<TClient>(IServiceCollection services, Func<AugmentationOptions, string> address) where TClient : class =>
        services.AddGrpcClient<TClient>((provider, client) => client.Address = new Uri(address(provider.GetRequiredService<IOptions<AugmentationOptions>>().Value)))
            .ConfigureChannel(channel =>
            {
                channel.ThrowOperationCanceledOnCancellation = true;
                channel.MaxReceiveMessageSize = ServiceDefaultsExtensions.MaxMessageBytes;
                channel.MaxSendMessageSize = ServiceDefaultsExtensions.MaxMessageBytes;
            })
            .AddServiceCredentials();
}
