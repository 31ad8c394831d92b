using MentorKd.MentorServer.Extensions;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Messaging;

return await ServiceHost.RunAsync(args, builder => builder.AddMentorServer().AddMessaging(), app => app.MapMentorServer());
