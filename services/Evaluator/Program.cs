using MentorKd.Evaluator.Extensions;
using MentorKd.ServiceDefaults;

return await ServiceHost.RunAsync(args, builder => builder.AddEvaluator(), app => app.MapEvaluator());
