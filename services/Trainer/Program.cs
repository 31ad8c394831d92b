using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Messaging;
using MentorKd.Trainer.Extensions;

return await ServiceHost.RunAsync(args, builder => builder.AddTrainer().AddMessaging(bus => bus.AddTrainerMessaging()), app => app.MapTrainer());
