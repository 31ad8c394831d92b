using MentorKd.Augmentation.Extensions;
using MentorKd.ServiceDefaults;
using MentorKd.ServiceDefaults.Messaging;

// The run state machine and the run consumers live here.
return await ServiceHost.RunAsync(args, builder => builder.AddAugmentation().AddMessaging(bus => bus.AddAugmentationMessaging()), app => app.MapAugmentation());
