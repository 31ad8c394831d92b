using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.TeacherGateway.Extensions;

return await ServiceHost.RunAsync(args, builder => builder.AddTeacherGateway().AddMessaging(bus => bus.AddTeacherGatewayMessaging()), app => app.MapTeacherGateway());
