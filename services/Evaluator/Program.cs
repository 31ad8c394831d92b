using MentorKd.Evaluator.Extensions;
using MentorKd.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.UseHttp2ByDefault();
builder.AddServiceDefaults();
builder.AddEvaluator();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapEvaluator();
app.Run();
