using MentorKd.Evaluator.Extensions;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Messaging;

return await ServiceHost.RunAsync(args, builder => builder.AddEvaluator().AddMessaging(bus => bus.AddEvaluatorMessaging()), app => app.MapEvaluator());
