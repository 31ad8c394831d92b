using Microsoft.AspNetCore.Builder;

namespace MentorKd.ServiceDefaults;

/// <summary>The whole of a service's Program.cs: the shared wiring around the service's own, or
/// <c>&lt;service&gt; healthcheck</c> (a container health probe) instead of running.</summary>
public static class ServiceHost
{
    public static async Task<int> RunAsync(string[] args, Action<WebApplicationBuilder> addService, Action<WebApplication> mapService)
    {
        if (HealthProbe.IsRequested(args)) return await HealthProbe.RunAsync(args);

        var builder = WebApplication.CreateBuilder(args);
        builder.UseHttp2ByDefault();
        builder.AddServiceDefaults();
        addService(builder);

        var app = builder.Build();
        app.MapDefaultEndpoints();
        mapService(app);
        await app.RunAsync();
        return 0;
    }
}
