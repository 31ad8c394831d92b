using MentorKd.ServiceDefaults;
using MentorKd.TeacherGateway.Extensions;

return await ServiceHost.RunAsync(args, builder => builder.AddTeacherGateway(), app => app.MapTeacherGateway());
