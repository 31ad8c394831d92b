using MassTransit;
using MentorKd.Contracts;
using MentorKd.Protos.V1;

namespace MentorKd.Augmentation.Runs;

/// <summary>A training job's progress, or its end (completed, failed or cancelled).</summary>
public sealed record TrainingJobUpdate(TrainingProgress? Progress, TrainingJob? Ended);

/// <summary>The trainers' job events, handed to the runs following those jobs. A job whose command faulted (the
/// trainer could not reach the store or broker through its retries) ends failed.</summary>
public sealed class TrainingJobEventsConsumer(EventFollowers<TrainingJobUpdate> followers)
    : IConsumer<TrainingJobProgressed>, IConsumer<TrainingJobEnded>, IConsumer<Fault<TrainModel>>
{
    public Task Consume(ConsumeContext<TrainingJobProgressed> context)
    {
        followers.Deliver(context.Message.JobId, new TrainingJobUpdate(context.Message.ReadProgress(), null));
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<TrainingJobEnded> context)
    {
        followers.Deliver(context.Message.JobId, new TrainingJobUpdate(null, context.Message.ReadJob()));
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<Fault<TrainModel>> context)
    {
        var jobId = context.Message.Message.JobId;
        var error = context.Message.Exceptions.FirstOrDefault()?.Message ?? "the trainer faulted";
        followers.Deliver(jobId, new TrainingJobUpdate(null, new TrainingJob { JobId = jobId, State = JobState.Failed, Error = error }));
        return Task.CompletedTask;
    }
}

/// <summary>The evaluators' outcomes, handed to the runs following those evaluations; a faulted command fails its evaluation.</summary>
public sealed class EvaluationEventsConsumer(EventFollowers<CheckpointEvaluated> followers) : IConsumer<CheckpointEvaluated>, IConsumer<Fault<EvaluateCheckpoint>>
{
    public Task Consume(ConsumeContext<CheckpointEvaluated> context)
    {
        followers.Deliver(context.Message.EvaluationId, context.Message);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<Fault<EvaluateCheckpoint>> context)
    {
        var id = context.Message.Message.EvaluationId;
        followers.Deliver(id, CheckpointEvaluated.Failed(id, context.Message.Exceptions.FirstOrDefault()?.Message ?? "the evaluator faulted"));
        return Task.CompletedTask;
    }
}

/// <summary>An annotation's progress, or its outcome.</summary>
public sealed record AnnotationUpdate(QuestionsAnnotationProgressed? Progress, QuestionsAnnotated? Outcome);

/// <summary>The teacher-gateways' annotation events, handed to the runs following them; a faulted command fails its annotation.</summary>
public sealed class AnnotationEventsConsumer(EventFollowers<AnnotationUpdate> followers)
    : IConsumer<QuestionsAnnotationProgressed>, IConsumer<QuestionsAnnotated>, IConsumer<Fault<AnnotateQuestions>>
{
    public Task Consume(ConsumeContext<QuestionsAnnotationProgressed> context)
    {
        followers.Deliver(context.Message.AnnotationId, new AnnotationUpdate(context.Message, null));
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<QuestionsAnnotated> context)
    {
        followers.Deliver(context.Message.AnnotationId, new AnnotationUpdate(null, context.Message));
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<Fault<AnnotateQuestions>> context)
    {
        var command = context.Message.Message;
        var error = context.Message.Exceptions.FirstOrDefault()?.Message ?? "the teacher-gateway faulted";
        followers.Deliver(command.AnnotationId, new AnnotationUpdate(null, new QuestionsAnnotated(command.AnnotationId, command.OutputKey, 0, 0, 0, "", error)));
        return Task.CompletedTask;
    }
}

/// <summary>An augmentation's progress, or its outcome.</summary>
public sealed record AugmentationUpdate(QuestionsAugmentationProgressed? Progress, QuestionsAugmented? Outcome);

/// <summary>Mentor augmentation events, handed to the runs following them; a faulted command fails its augmentation.</summary>
public sealed class AugmentationEventsConsumer(EventFollowers<AugmentationUpdate> followers)
    : IConsumer<QuestionsAugmentationProgressed>, IConsumer<QuestionsAugmented>, IConsumer<Fault<AugmentQuestions>>
{
    public Task Consume(ConsumeContext<QuestionsAugmentationProgressed> context)
    {
        followers.Deliver(context.Message.AugmentationId, new AugmentationUpdate(context.Message, null));
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<QuestionsAugmented> context)
    {
        followers.Deliver(context.Message.AugmentationId, new AugmentationUpdate(null, context.Message));
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<Fault<AugmentQuestions>> context)
    {
        var command = context.Message.Message;
        var error = context.Message.Exceptions.FirstOrDefault()?.Message ?? "the augmentation faulted";
        followers.Deliver(command.AugmentationId, new AugmentationUpdate(null, new QuestionsAugmented(command.AugmentationId, command.OutputKey, 0, 0, 0, "", error)));
        return Task.CompletedTask;
    }
}
