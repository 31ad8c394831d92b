using MentorKd.MentorServer.Extensions;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Messaging;

if (HealthProbe.IsRequested(args)) return await HealthProbe.RunAsync(args);

var builder = WebApplication.CreateBuilder(args);
builder.UseHttp2ByDefault();
builder.AddServiceDefaults();
builder.AddMentorServer();
builder.AddMessaging(); // every host has its bus connection; the run's consumers live in the augmentation service

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapMentorServer();
await app.RunAsync();
return 0;
