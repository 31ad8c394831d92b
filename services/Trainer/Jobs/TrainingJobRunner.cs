using MentorKd.Modeling.Runtime;
using MentorKd.Protos.V1;
using MentorKd.Storage;
using Microsoft.Extensions.Options;

namespace MentorKd.Trainer.Jobs;

/// <summary>
/// Takes queued jobs one at a time and runs each on a dedicated thread (TorchSharp state is thread-local and a
/// training step must not hop threads). StartJob returns as soon as a job is queued; progress and the outcome
/// reach clients through the job record.
/// </summary>
public sealed class TrainingJobRunner(TrainingJobQueue queue, IObjectStore store, IOptions<TrainerOptions> options, ILoggerFactory loggers) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<TrainingJobRunner>();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        TorchRuntime.SetThreads(options.Value.Threads);
        var executor = new TrainingJobExecutor(store, options.Value, loggers.CreateLogger<TrainingJobExecutor>());
        await foreach (var job in queue.Reader.ReadAllAsync(stoppingToken))
        {
            if (job.Cancellation.IsCancellationRequested) { job.Update(j => j.State = JobState.Cancelled); continue; }
            using var stop = stoppingToken.Register(job.Cancellation.Cancel);
            await Task.Factory.StartNew(() => Execute(executor, job), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
    }

    private void Execute(TrainingJobExecutor executor, TrainingJobRecord job)
    {
        try
        {
            job.Update(j => j.State = JobState.Running);
            executor.Run(job);
        }
        catch (OperationCanceledException)
        {
            job.Update(j => j.State = JobState.Cancelled);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Training job {Job} failed", job.JobId);
            job.Update(j => { j.State = JobState.Failed; j.Error = e.Message; });
        }
    }
}
