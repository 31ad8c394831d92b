using MentorKd.Augmentation.Extensions;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Messaging;

if (HealthProbe.IsRequested(args)) return await HealthProbe.RunAsync(args);

var builder = WebApplication.CreateBuilder(args);
builder.UseHttp2ByDefault();
builder.AddServiceDefaults();
builder.AddAugmentation();
builder.AddMessaging(bus => bus.AddAugmentationMessaging());

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapAugmentation();
await app.RunAsync();
return 0;
