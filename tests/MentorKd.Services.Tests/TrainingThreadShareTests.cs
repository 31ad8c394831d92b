using MentorKd.Trainer;
using MentorKd.Trainer.Jobs;
using static TorchSharp.torch;

namespace MentorKd.Services.Tests;

/// <summary>A trainer replica's libtorch threads, shared among the jobs it trains at once (each on a thread of its own).</summary>
public class TrainingThreadShareTests
{
    [Fact]
    public void Jobs_training_at_once_share_the_threads_each_on_its_own_thread_and_one_left_alone_takes_them_all_back()
    {
        var share = new TrainingThreadShare(new TrainerOptions { Threads = 4 });
        var firstAlone = new ManualResetEventSlim();
        var secondTookShare = new ManualResetEventSlim();
        var secondLeft = new ManualResetEventSlim();
        int alone = 0, firstWhileSecondTrains = 0, second = 0, firstAfterSecondLeft = 0;

        var first = new Thread(() =>
        {
            using var training = share.Enter();
            share.TakeShare();
            alone = get_num_threads();
            firstAlone.Set();
            secondTookShare.Wait();
            firstWhileSecondTrains = get_num_threads(); // the neighbour's share does not change this thread's
            share.TakeShare();
            secondLeft.Wait();
            share.TakeShare();
            firstAfterSecondLeft = get_num_threads();
        });
        var secondJob = new Thread(() =>
        {
            firstAlone.Wait();
            using (share.Enter())
            {
                share.TakeShare();
                second = get_num_threads();
                secondTookShare.Set();
            }
            secondLeft.Set();
        });
        first.Start();
        secondJob.Start();
        Assert.True(first.Join(TimeSpan.FromSeconds(30)) && secondJob.Join(TimeSpan.FromSeconds(30)));

        Assert.Equal(4, alone);
        Assert.Equal(2, second);
        Assert.Equal(4, firstWhileSecondTrains);
        Assert.Equal(4, firstAfterSecondLeft);
    }

    [Fact]
    public void A_fixed_share_is_the_threads_over_the_concurrent_jobs_whether_a_job_trains_alone_or_beside_others()
    {
        var share = new TrainingThreadShare(new TrainerOptions { Threads = 4, ConcurrentJobs = 2, FixedThreadShare = true });
        int alone = 0, beside = 0;
        var job = new Thread(() =>
        {
            using var training = share.Enter();
            share.TakeShare();
            alone = get_num_threads();
            using (share.Enter()) // a neighbour starts
            {
                share.TakeShare();
                beside = get_num_threads();
            }
        });
        job.Start();
        Assert.True(job.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal((2, 2), (alone, beside));
    }
}
