using MentorKd.Modeling.Tokenization;
using MentorKd.Modeling.Training;
using static TorchSharp.torch;

namespace MentorKd.Distillation.Training;

/// <summary>
/// Soft labels read from a <see cref="SparseSoftLabelStore"/>: each batch row is found by its tokens and its scored
/// positions rebuilt from the top k (<see cref="TopKDistribution"/>). The store serves one setting only — the KL term
/// at its temperature over the positions that predict target tokens (the clean mask), for decoder-only students with
/// its vocabulary — and anything else is refused before training starts, naming what does not match.
/// </summary>
public sealed class StoredSoftLabels : ISoftLabelSource
{
    private readonly SparseSoftLabelStore _store;

    private StoredSoftLabels(SparseSoftLabelStore store) => _store = store;

    public string Name => $"soft-label store (top-{_store.Info.TopK} at T={_store.Info.Temperature})";

    /// <param name="field">How the caller names the store in its errors (a request field or a config key).</param>
    public static StoredSoftLabels For(SparseSoftLabelStore store, ITokenizer tokenizer, ReasoningTrainingOptions training, bool encoderDecoder, string field)
    {
        var info = store.Info;
        if (info.VocabSize != tokenizer.VocabSize || info.VocabularyFingerprint != TokenizerVocabulary.Fingerprint(tokenizer))
            throw new InvalidDataException($"{field}: the store's soft labels are over another vocabulary ({info.VocabSize} ids, fingerprint {Short(info.VocabularyFingerprint)}) " +
                $"than the student's tokenizer ({tokenizer.VocabSize} ids, fingerprint {Short(TokenizerVocabulary.Fingerprint(tokenizer))}): mentor and student need the same tokenizer.");
        if (Math.Abs(info.Temperature - training.Temperature) > 1e-9)
            throw new InvalidDataException($"training.temperature: the store holds soft labels at T={info.Temperature}, the student trains at T={training.Temperature}.");
        CheckSetting(training, encoderDecoder, field);
        return new StoredSoftLabels(store);

        static string Short(string fingerprint) => fingerprint.Length > 12 ? fingerprint[..12] : fingerprint;
    }

    /// <summary>Refuses a store that lacks any of the job's sequences before the first step, rather than at the batch that holds it.</summary>
    public void CheckCovers(IEnumerable<LanguageModelExample> examples, string field)
    {
        var missing = examples.Count(e => !_store.TryFind([.. e.Prompt, .. e.Target], e.Prompt.Length, out _));
        if (missing > 0)
            throw new InvalidDataException($"{field}: the store has no soft labels for {missing} of the job's training sequences: it was written for other rationales, " +
                "another tokenizer or another context length.");
    }

    /// <summary>Refuses a training setting no store can serve (checked before one is written for it).</summary>
    public static void CheckSetting(ReasoningTrainingOptions training, bool encoderDecoder, string field)
    {
        if (!KnowledgeDistillationModes.NeedsOnlyTheDistribution(training.KdMode))
            throw new InvalidDataException($"training.kd_mode: stored soft labels are log-probabilities at T and serve kl, reverse_kl and jsd only (got {training.KdMode.ToString().ToLowerInvariant()}).");
        if (training.KdMask != KnowledgeDistillationMask.Clean)
            throw new InvalidDataException("training.kd_mask: stored soft labels cover the positions that predict target tokens only: use clean.");
        if (encoderDecoder)
            throw new InvalidDataException($"{field}: stored soft labels serve decoder-only students (this one is an encoder-decoder).");
    }

    public MentorSoftLabels SoftLabels(LanguageModelBatch batch)
    {
        int rows = (int)batch.InputIds.shape[0], width = (int)batch.InputIds.shape[1], vocab = _store.Info.VocabSize;
        var ids = batch.InputIds.cpu().data<long>().ToArray();
        var labels = batch.Labels.cpu().data<long>().ToArray();
        var logProbabilities = new float[(long)rows * width * vocab];
        for (int r = 0; r < rows; r++)
        {
            // Labels mark the target: the first labelled position is the prompt's length, the last the sequence's end.
            int first = -1, last = -1;
            for (int c = 0; c < width; c++)
                if (labels[r * width + c] != LanguageModelBatch.IgnoreIndex) { if (first < 0) first = c; last = c; }
            if (first < 1) continue;
            if (!_store.TryFind(ids.AsSpan(r * width, last + 1), first, out var row))
                throw new InvalidDataException($"the soft-label store has no labels for a training sequence of {last + 1} tokens (prompt {first}): " +
                    "it was written for other rationales, another tokenizer or another context length.");
            // Position t predicts token t + 1: the target's tokens are predicted from first - 1 to last - 1.
            for (int p = first - 1; p < last; p++, row++)
                _store.Fill(row, logProbabilities.AsSpan((r * width + p) * vocab, vocab));
        }
        return MentorSoftLabels.FromLogProbabilities(tensor(logProbabilities, [rows, width, vocab]).to(batch.InputIds.device), _store.Info.Temperature);
    }
}
