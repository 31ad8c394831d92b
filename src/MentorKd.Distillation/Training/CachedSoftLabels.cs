using MentorKd.Modeling.Training;
using static TorchSharp.torch;

namespace MentorKd.Distillation.Training;

/// <summary>
/// Remembers the mentor's logits per training sequence, so a frozen mentor runs once per example instead of
/// once per epoch. Exact for every position that predicts a real token (causal attention: those logits depend
/// only on the sequence itself), so use it with <see cref="KnowledgeDistillationMask.Clean"/>; padding
/// positions come back as zeros. Stored as fp16 (logits change by ~1e-3 relative), keyed by token content.
/// </summary>
public sealed class CachedSoftLabels(ISoftLabelSource inner) : ISoftLabelSource, IDisposable
{
    private readonly Dictionary<string, Tensor> _rows = new(StringComparer.Ordinal);

    public string Name => $"{inner.Name} (cached)";
    public int CachedSequences => _rows.Count;

    public MentorSoftLabels SoftLabels(LanguageModelBatch batch)
    {
        var ids = batch.InputIds.cpu().data<long>().ToArray();
        // An encoder-decoder mentor's logits depend on the prompt its encoder read as well.
        var prompts = batch.EncoderIds?.cpu().data<long>().ToArray();
        var promptMask = batch.EncoderMask?.cpu().data<long>().ToArray();
        int promptWidth = (int)(batch.EncoderIds?.shape[1] ?? 0);
        var labels = batch.Labels.cpu().data<long>().ToArray();
        int rows = (int)batch.InputIds.shape[0], width = (int)batch.InputIds.shape[1];
        var keys = new string[rows];
        var lengths = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            int length = 0;
            for (int c = 0; c < width; c++) if (labels[r * width + c] != LanguageModelBatch.IgnoreIndex) length = c + 1;
            lengths[r] = length;
            keys[r] = string.Join(',', ids.AsSpan(r * width, length).ToArray()) +
                (prompts is null ? "" : "|" + string.Join(',', Enumerable.Range(r * promptWidth, promptWidth).Where(i => promptMask![i] == 1).Select(i => prompts[i])));
        }

        if (keys.Any(k => !_rows.ContainsKey(k)))
        {
            var computed = inner.SoftLabels(batch).Logits ?? throw new InvalidOperationException($"{inner.Name} gives no logits to cache.");
            for (int r = 0; r < rows; r++)
                if (!_rows.ContainsKey(keys[r]))
                    _rows[keys[r]] = computed[r, ..lengths[r]].to(ScalarType.Float16).clone().DetachFromDisposeScope();
            return MentorSoftLabels.FromLogits(computed);
        }

        var vocab = _rows[keys[0]].shape[^1];
        var logits = zeros(rows, width, vocab, device: batch.InputIds.device);
        using (no_grad())
            for (int r = 0; r < rows; r++)
                logits[r, ..lengths[r]].copy_(_rows[keys[r]]);
        return MentorSoftLabels.FromLogits(logits);
    }

    public void Dispose()
    {
        foreach (var row in _rows.Values) row.Dispose();
        _rows.Clear();
    }
}
