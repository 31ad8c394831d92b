using System.Collections.Concurrent;
using MassTransit;
using MentorKd.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace MentorKd.Integration.Tests;

/// <summary>A bus of the test's own on the broker, subscribed to every run event: what the broker carried, per run.</summary>
public sealed class RunEventObserver : IAsyncDisposable
{
    private readonly ServiceProvider _provider;
    private readonly IBusControl _bus;

    private RunEventObserver(ServiceProvider provider)
    {
        _provider = provider;
        _bus = provider.GetRequiredService<IBusControl>();
    }

    public static readonly string[] RunEvents =
    [
        nameof(RunSubmitted), nameof(TeacherAnnotationCompleted), nameof(MentorTrainingCompleted),
        nameof(AugmentationCompleted), nameof(StudentTrainingCompleted), nameof(EvaluationCompleted),
    ];

    public static async Task<RunEventObserver> StartAsync(Infrastructure infrastructure)
    {
        var provider = new ServiceCollection()
            .AddSingleton<SeenEvents>()
            .AddMassTransit(bus =>
            {
                bus.DisableUsageTelemetry();
                bus.AddConsumer<Recorder>().Endpoint(e => e.Name = $"integration-test-observer-{Guid.NewGuid():N}");
                bus.UsingRabbitMq((context, rabbit) =>
                {
                    rabbit.Host(infrastructure.RabbitHost, (ushort)infrastructure.RabbitPort, "/", h =>
                    {
                        h.Username(Infrastructure.RabbitUser);
                        h.Password(Infrastructure.RabbitPassword);
                    });
                    rabbit.ConfigureEndpoints(context);
                });
            })
            .BuildServiceProvider();
        var observer = new RunEventObserver(provider);
        await observer._bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        return observer;
    }

    /// <summary>The names of the events seen for <paramref name="runId"/>, each once however often it was delivered.</summary>
    public IReadOnlySet<string> Seen(Guid runId) => _provider.GetRequiredService<SeenEvents>().For(runId);

    public async ValueTask DisposeAsync()
    {
        await _bus.StopAsync();
        await _provider.DisposeAsync();
    }

    public sealed class SeenEvents
    {
        private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<string, bool>> _byRun = new();
        public void Add(Guid runId, string name) => _byRun.GetOrAdd(runId, _ => new()).TryAdd(name, true);
        public IReadOnlySet<string> For(Guid runId) => _byRun.TryGetValue(runId, out var seen) ? seen.Keys.ToHashSet() : [];
    }

    public sealed class Recorder(SeenEvents seen) :
        IConsumer<RunSubmitted>, IConsumer<TeacherAnnotationCompleted>, IConsumer<MentorTrainingCompleted>,
        IConsumer<AugmentationCompleted>, IConsumer<StudentTrainingCompleted>, IConsumer<EvaluationCompleted>, IConsumer<RunFailed>
    {
        public Task Consume(ConsumeContext<RunSubmitted> c) => Record(c.Message.CorrelationId, nameof(RunSubmitted));
        public Task Consume(ConsumeContext<TeacherAnnotationCompleted> c) => Record(c.Message.CorrelationId, nameof(TeacherAnnotationCompleted));
        public Task Consume(ConsumeContext<MentorTrainingCompleted> c) => Record(c.Message.CorrelationId, nameof(MentorTrainingCompleted));
        public Task Consume(ConsumeContext<AugmentationCompleted> c) => Record(c.Message.CorrelationId, nameof(AugmentationCompleted));
        public Task Consume(ConsumeContext<StudentTrainingCompleted> c) => Record(c.Message.CorrelationId, nameof(StudentTrainingCompleted));
        public Task Consume(ConsumeContext<EvaluationCompleted> c) => Record(c.Message.CorrelationId, nameof(EvaluationCompleted));
        public Task Consume(ConsumeContext<RunFailed> c) => Record(c.Message.CorrelationId, nameof(RunFailed));

        private Task Record(Guid runId, string name)
        {
            seen.Add(runId, name);
            return Task.CompletedTask;
        }
    }
}
