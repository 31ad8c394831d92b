using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Trainer.Extensions;

if (HealthProbe.IsRequested(args)) return await HealthProbe.RunAsync(args);

var builder = WebApplication.CreateBuilder(args);
builder.UseHttp2ByDefault();
builder.AddServiceDefaults();
builder.AddTrainer();
builder.AddMessaging(); // every host has its bus connection; the run's consumers live in the augmentation service

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapTrainer();
await app.RunAsync();
return 0;
