using MentorKd.ServiceDefaults.Security;
using MentorKd.ServiceDefaults.Telemetry;
using MentorKd.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Minio;

namespace MentorKd.ServiceDefaults;

/// <summary>The wiring every MentorKd service host shares.</summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Messages carry ids, refs and parameters, never tensors or datasets: 16 MB is ample and bounds memory.</summary>
    public const int MaxMessageBytes = 16 * 1024 * 1024;

    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        builder.Services.AddGrpc(options =>
        {
            options.Interceptors.Add<ErrorMappingInterceptor>();
            options.MaxReceiveMessageSize = MaxMessageBytes;
            options.MaxSendMessageSize = MaxMessageBytes;
        });
        builder.Services.AddGrpcHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), tags: ["live"]);
        builder.Services.AddGrpcReflection();
        builder.Services.AddObjectStore();
        builder.AddPlatformAuth();
        builder.AddPlatformTelemetry();
        return builder;
    }

    /// <summary>gRPC over cleartext HTTP/2 (h2c) unless the configuration says otherwise.</summary>
    public static WebApplicationBuilder UseHttp2ByDefault(this WebApplicationBuilder builder)
    {
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(listen => listen.Protocols = HttpProtocols.Http2));
        return builder;
    }

    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        if (app.Services.GetRequiredService<IOptions<AuthOptions>>().Value.Mode == AuthOptions.Open)
            app.Logger.LogWarning("Auth:Mode is '{Mode}': every caller is an admin. Only for a service no one else can reach.", AuthOptions.Open);
        // Probes (the containers' health checks, load balancers) carry no key.
        app.MapGrpcHealthChecksService().AllowAnonymous();
        var reflection = app.MapGrpcReflectionService();
        if (app.Services.GetRequiredService<IOptions<AuthOptions>>().Value.AnonymousReflection) reflection.AllowAnonymous();
        else reflection.RequireAuthorization(PlatformRoles.Reader);
        return app;
    }

    /// <summary>Options bound from a configuration section and checked (data annotations) when the host starts, so a bad
    /// setting stops the service at once with its name instead of failing on first use.</summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IServiceCollection services, string section) where TOptions : class =>
        services.AddOptions<TOptions>().BindConfiguration(section).ValidateDataAnnotations().ValidateOnStart();

    /// <summary>The object store chosen by the "ObjectStore" section, validated when the host starts.</summary>
    public static IServiceCollection AddObjectStore(this IServiceCollection services)
    {
        services.AddValidatedOptions<ObjectStoreOptions>("ObjectStore")
            .Validate(o => o.Kind != "minio" || !string.IsNullOrWhiteSpace(o.Endpoint), "ObjectStore:Endpoint is required for the minio store.");
        services.AddSingleton<IObjectStore>(provider =>
        {
            var options = provider.GetRequiredService<IOptions<ObjectStoreOptions>>().Value;
            if (options.Kind == "filesystem") return new FileSystemObjectStore(options.Root);
            // Built here from options (never AddMinio, which falls back to a public endpoint).
            var client = new MinioClient().WithEndpoint(options.Endpoint).WithCredentials(options.AccessKey, options.SecretKey).WithSSL(options.UseTls).Build();
            var retry = new ObjectStoreRetry(TimeSpan.FromSeconds(options.RetrySeconds), provider.GetRequiredService<ILoggerFactory>().CreateLogger<MinioObjectStore>());
            return new MinioObjectStore(client, options.Bucket, retry);
        });
        services.AddHostedService<ObjectStoreStartupCheck>();
        return services;
    }
}
