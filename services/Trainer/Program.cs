using MentorKd.ServiceDefaults;
using MentorKd.Trainer.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.UseHttp2ByDefault();
builder.AddServiceDefaults();
builder.AddTrainer();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapTrainer();
app.Run();
