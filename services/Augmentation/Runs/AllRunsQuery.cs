using System.Linq.Expressions;
using MassTransit;

namespace MentorKd.Augmentation.Runs;

/// <summary>Every run the state machine knows (MassTransit ships the query interface, not an implementation).</summary>
public sealed class AllRunsQuery : ISagaQuery<RunState>
{
    public Expression<Func<RunState, bool>> FilterExpression { get; } = _ => true;
    public Func<RunState, bool> GetFunction() => _ => true;
    public Func<RunState, bool> GetFilter() => _ => true;
}
