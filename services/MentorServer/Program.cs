using MentorKd.MentorServer.Extensions;
using MentorKd.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.UseHttp2ByDefault();
builder.AddServiceDefaults();
builder.AddMentorServer();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapMentorServer();
app.Run();
