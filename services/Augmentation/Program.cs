using MentorKd.Augmentation.Extensions;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Messaging;

var builder = WebApplication.CreateBuilder(args);
builder.UseHttp2ByDefault();
builder.AddServiceDefaults();
builder.AddAugmentation();
builder.AddMessaging(bus => bus.AddAugmentationMessaging());

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapAugmentation();
app.Run();
