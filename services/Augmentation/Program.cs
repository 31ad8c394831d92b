using MentorKd.Augmentation.Extensions;
using MentorKd.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.UseHttp2ByDefault();
builder.AddServiceDefaults();
builder.AddAugmentation();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapAugmentation();
app.Run();
