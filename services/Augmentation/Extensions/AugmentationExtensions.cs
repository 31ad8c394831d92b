using MentorKd.ServiceDefaults;
using MentorKd.Augmentation.Datasets;
using MentorKd.Augmentation.Grpc;
using Microsoft.Extensions.Options;

namespace MentorKd.Augmentation.Extensions;

/// <summary>Wiring of the augmentation service, shared by its own host and the embedded one.</summary>
public static class AugmentationExtensions
{
    public static IHostApplicationBuilder AddAugmentation(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<AugmentationOptions>("Augmentation");
        builder.Services.AddSingleton<DatasetRegistry>();
        builder.Services.AddGrpcClient<Protos.V1.MentorServer.MentorServerClient>((provider, client) =>
            client.Address = new Uri(provider.GetRequiredService<IOptions<AugmentationOptions>>().Value.MentorServerAddress));
        return builder;
    }

    public static WebApplication MapAugmentation(this WebApplication app)
    {
        app.MapGrpcService<DatasetsService>();
        return app;
    }
}
