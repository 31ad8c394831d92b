using MentorKd.ServiceDefaults;
using MentorKd.TeacherGateway.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.UseHttp2ByDefault();
builder.AddServiceDefaults();
builder.AddTeacherGateway();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapTeacherGateway();
app.Run();
