using MentorKd.MentorServer.Extensions;
using MentorKd.ServiceDefaults;

return await ServiceHost.RunAsync(args, builder => builder.AddMentorServer(), app => app.MapMentorServer());
