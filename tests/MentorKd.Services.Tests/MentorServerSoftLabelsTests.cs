using Grpc.Core;
using Grpc.Core.Interceptors;
using MentorKd.Distillation.Training;
using MentorKd.Modeling.Training;
using MentorKd.Protos.V1;
using MentorKd.Trainer.Jobs;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Services.Tests;

/// <summary>
/// The trainer's soft-label client when the mentor-server does not answer: a training thread blocks on each call, so
/// a call that never returns must end in a retry and then a clear failure, not a job stalled for good.
/// </summary>
public class MentorServerSoftLabelsTests
{
    [Fact]
    public async Task A_mentor_server_that_never_answers_is_asked_again_then_the_job_fails_naming_the_deadline()
    {
        await using var host = await StartSilent(new SilentMentorServer());
        var calls = new CallCounter();
        var source = new MentorServerSoftLabels(new Protos.V1.MentorServer.MentorServerClient(host.Channel.Intercept(calls)), topK: 4, temperature: 2.0, vocabSize: 16,
            KnowledgeDistillationMask.Clean, callTimeout: TimeSpan.FromMilliseconds(300), attempts: 2);
        using var batch = LanguageModelBatch.Collate([new([3, 4, 5], [6, 7])], padId: 1, maxLength: 16);

        var failure = await Task.Run(() => Assert.Throws<InvalidOperationException>(() => source.SoftLabels(batch)));

        Assert.Contains("2 attempts of 0.3 s", failure.Message);
        Assert.Equal(2, calls.Count);
    }

    [Fact]
    public async Task Cancelling_the_job_during_a_call_ends_it_as_cancelled_at_once()
    {
        var server = new SilentMentorServer();
        await using var host = await StartSilent(server);
        using var cancellation = new CancellationTokenSource();
        var source = new MentorServerSoftLabels(new Protos.V1.MentorServer.MentorServerClient(host.Channel), topK: 4, temperature: 2.0, vocabSize: 16,
            KnowledgeDistillationMask.Clean, callTimeout: TimeSpan.FromMinutes(5), cancellationToken: cancellation.Token);
        using var batch = LanguageModelBatch.Collate([new([3, 4, 5], [6, 7])], padId: 1, maxLength: 16);

        var call = Task.Run(() => source.SoftLabels(batch));
        await server.FirstCall.Task.WaitAsync(TimeSpan.FromSeconds(30));
        cancellation.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, server.Calls);
    }

    [Fact]
    public async Task Batches_announced_a_step_ahead_are_each_asked_for_once_and_answered_as_without_prefetching()
    {
        var server = new EchoMentorServer();
        await using var host = await KestrelTestHost.StartAsync(b => b.Services.AddSingleton(server), a => a.MapGrpcService<EchoMentorServer>());
        var client = new Protos.V1.MentorServer.MentorServerClient(host.Channel);
        ISoftLabelSource prefetching = new MentorServerSoftLabels(client, topK: 1, temperature: 2.0, vocabSize: 16, KnowledgeDistillationMask.Clean, prefetch: true);
        ISoftLabelSource plain = new MentorServerSoftLabels(client, topK: 1, temperature: 2.0, vocabSize: 16, KnowledgeDistillationMask.Clean);
        var batches = Enumerable.Range(0, 4).Select(b => LanguageModelBatch.Collate([new([3 + b, 4], [5 + b, 6, 7 + b])], padId: 1, maxLength: 16)).ToList();

        await Task.Run(() =>
        {
            // The trainer's order: batch i + 1 is announced before batch i's step asks for its soft labels.
            for (int i = 0; i < batches.Count; i++)
            {
                if (i + 1 < batches.Count) prefetching.Prefetch(batches[i + 1]);
                using var prefetched = prefetching.SoftLabels(batches[i]).Values;
                using var asked = plain.SoftLabels(batches[i]).Values;
                Assert.True(prefetched.allclose(asked, rtol: 0, atol: 0), $"batch {i}: prefetched soft labels differ");
                // Each position's top token is the next input token, as the echoing server puts it.
                Assert.Equal(batches[i].InputIds[0, 1..].data<long>().ToArray(), prefetched[0, ..^1].argmax(-1).data<long>().ToArray());
            }
        });
        Assert.Equal(2 * batches.Count, server.Calls); // one call per batch for each source: nothing asked twice
        foreach (var batch in batches) batch.Dispose();
    }

    /// <summary>The silent server on a real Kestrel loopback port (the in-memory test server reports a deadline that
    /// ends a call before its response starts as a reset stream rather than DeadlineExceeded).</summary>
    private static Task<KestrelTestHost> StartSilent(SilentMentorServer server) =>
        KestrelTestHost.StartAsync(b => b.Services.AddSingleton(server), a => a.MapGrpcService<SilentMentorServer>());

    /// <summary>Counts the calls a client makes.</summary>
    private sealed class CallCounter : Interceptor
    {
        private int _count;
        public int Count => Volatile.Read(ref _count);

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
            AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            Interlocked.Increment(ref _count);
            return continuation(request, context);
        }
    }

    /// <summary>A mentor-server that takes GetSoftLabels calls and never answers them (until the caller gives up).</summary>
    private sealed class SilentMentorServer : Protos.V1.MentorServer.MentorServerBase
    {
        private int _calls;
        public int Calls => Volatile.Read(ref _calls);
        public TaskCompletionSource FirstCall { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async Task<SoftLabelsResponse> GetSoftLabels(SoftLabelsRequest request, ServerCallContext context)
        {
            Interlocked.Increment(ref _calls);
            FirstCall.TrySetResult();
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }

    /// <summary>A mentor-server whose soft labels put 90% of the mass on each position's next input token.</summary>
    private sealed class EchoMentorServer : Protos.V1.MentorServer.MentorServerBase
    {
        private int _calls;
        public int Calls => Volatile.Read(ref _calls);

        public override Task<SoftLabelsResponse> GetSoftLabels(SoftLabelsRequest request, ServerCallContext context)
        {
            Interlocked.Increment(ref _calls);
            var response = new SoftLabelsResponse();
            foreach (var sequence in request.Sequences)
            {
                var labels = new SequenceSoftLabels();
                for (int p = 0; p < sequence.TokenIds.Count; p++)
                {
                    var position = new PositionSoftLabels { RemainingMass = 0.1f };
                    position.TokenIds.Add(p + 1 < sequence.TokenIds.Count ? sequence.TokenIds[p + 1] : 0);
                    position.LogProbs.Add(MathF.Log(0.9f));
                    labels.Positions.Add(position);
                }
                response.Sequences.Add(labels);
            }
            return Task.FromResult(response);
        }
    }
}
