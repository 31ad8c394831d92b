using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using MentorKd.Modeling.Checkpoints;
using static TorchSharp.torch;

namespace MentorKd.Distillation.Training;

/// <summary>One training sequence's soft labels as the store keeps them: its tokens (prompt then target), and for each
/// position that predicts a target token (prompt length − 1 … length − 2) the mentor's top k at T and the mass outside.</summary>
public sealed record StoredSequence(int[] Tokens, int PromptLength, int[] TopIds, float[] TopLogProbabilities, float[] RemainingMass)
{
    public int Positions => Tokens.Length - PromptLength;
}

/// <summary>What a store says about itself: which vocabulary its ids belong to, at which temperature and k they were
/// taken, from which mentor.</summary>
public sealed record SparseSoftLabelStoreInfo(int VocabSize, string VocabularyFingerprint, double Temperature, int TopK, string Mentor,
    int Sequences = 0, long Positions = 0);

/// <summary>
/// The mentor's soft labels for a set of training sequences, precomputed once and kept as one safetensors file: per
/// scored position the top-k log-probabilities of softmax(z/T) (F16), their ids (I16 when the vocabulary fits, else
/// I32) and the remaining mass (F16) — 4k + 2 bytes a token for vocabularies up to 32,768 ids (66 at k = 16), 6k + 2
/// beyond (98) — plus 16 bytes a sequence: the hash of its tokens (how a training batch finds its rows) and its
/// prompt's and target's lengths. The header's metadata describes the
/// encoding, and names the vocabulary by its fingerprint so a student with another tokenizer is refused instead of
/// learning from ids that mean other tokens.
/// </summary>
public sealed class SparseSoftLabelStore
{
    public const string Format = "mentorkd.sparse-soft-labels/1";
    public const string Encoding =
        "top_log_probs F16 [positions, k]: log softmax(z/T) of the mentor's k most likely ids, in descending order; top_ids I16 or I32 [positions, k]; " +
        "remaining_mass F16 [positions]: 1 - the top k's probability; rows in sequence order, one per position from prompt_length - 1 to length - 2 " +
        "(those predicting target tokens); sequence_hashes I64 [sequences]: the first 8 bytes (little-endian) of SHA-256 over the sequence's prompt and " +
        "target token ids as little-endian int32; prompt_lengths and target_lengths I32 [sequences]";

    private readonly Dictionary<(long Hash, int PromptLength, int Length), long> _firstRows;
    private readonly int[] _ids;
    private readonly float[] _logProbabilities, _remainingMass;

    private SparseSoftLabelStore(SparseSoftLabelStoreInfo info, Dictionary<(long, int, int), long> firstRows, int[] ids, float[] logProbabilities, float[] remainingMass) =>
        (Info, _firstRows, _ids, _logProbabilities, _remainingMass) = (info, firstRows, ids, logProbabilities, remainingMass);

    public SparseSoftLabelStoreInfo Info { get; }

    /// <summary>The first row of the sequence with these tokens (prompt then target), if the store has it.</summary>
    public bool TryFind(ReadOnlySpan<long> tokens, int promptLength, out long firstRow)
    {
        var ids = new int[tokens.Length];
        for (int i = 0; i < ids.Length; i++) ids[i] = checked((int)tokens[i]);
        return TryFind(ids, promptLength, out firstRow);
    }

    public bool TryFind(int[] tokens, int promptLength, out long firstRow) => _firstRows.TryGetValue((Hash(tokens), promptLength, tokens.Length), out firstRow);

    /// <summary>Row <paramref name="row"/>'s distribution over the whole vocabulary, as log-probabilities at T.</summary>
    public void Fill(long row, Span<float> destination)
    {
        int k = Info.TopK;
        TopKDistribution.Fill(destination, _ids.AsSpan((int)(row * k), k), _logProbabilities.AsSpan((int)(row * k), k), _remainingMass[row]);
    }

    /// <returns>The file's size in bytes.</returns>
    public static long Write(string path, SparseSoftLabelStoreInfo info, IReadOnlyList<StoredSequence> sequences)
    {
        int k = info.TopK;
        long positions = sequences.Sum(s => (long)s.Positions);
        foreach (var s in sequences)
            if (s.PromptLength < 1 || s.Positions < 1 || s.TopIds.Length != s.Positions * k || s.TopLogProbabilities.Length != s.Positions * k || s.RemainingMass.Length != s.Positions)
                throw new ArgumentException($"a sequence of {s.Tokens.Length} tokens (prompt {s.PromptLength}) needs {s.Positions} rows of {k} soft labels.", nameof(sequences));
        var metadata = new Dictionary<string, string>
        {
            ["format"] = Format, ["encoding"] = Encoding,
            ["vocab_size"] = info.VocabSize.ToString(CultureInfo.InvariantCulture), ["vocabulary_fingerprint"] = info.VocabularyFingerprint,
            ["temperature"] = info.Temperature.ToString("R", CultureInfo.InvariantCulture), ["top_k"] = k.ToString(CultureInfo.InvariantCulture),
            ["mentor"] = info.Mentor,
            ["sequences"] = sequences.Count.ToString(CultureInfo.InvariantCulture), ["positions"] = positions.ToString(CultureInfo.InvariantCulture),
        };
        using var scope = NewDisposeScope();
        var ids = tensor(sequences.SelectMany(s => s.TopIds).ToArray(), [positions, k]);
        var tensors = new Dictionary<string, Tensor>
        {
            ["sequence_hashes"] = tensor(sequences.Select(s => Hash(s.Tokens)).ToArray()),
            ["prompt_lengths"] = tensor(sequences.Select(s => s.PromptLength).ToArray()),
            ["target_lengths"] = tensor(sequences.Select(s => s.Positions).ToArray()),
            ["top_ids"] = info.VocabSize <= short.MaxValue + 1 ? ids.to(ScalarType.Int16) : ids,
            ["top_log_probs"] = tensor(sequences.SelectMany(s => s.TopLogProbabilities).ToArray(), [positions, k]).to(ScalarType.Float16),
            ["remaining_mass"] = tensor(sequences.SelectMany(s => s.RemainingMass).ToArray()).to(ScalarType.Float16),
        };
        SafetensorsWriter.Write(path, tensors, metadata);
        return new FileInfo(path).Length;
    }

    /// <summary>Reads a store, checking that it is one and that its parts agree before anything is looked up in it.</summary>
    public static SparseSoftLabelStore Read(string path)
    {
        var (_, metadata, _) = SafetensorsReader.ReadHeader(path);
        string Meta(string name) => metadata.TryGetValue(name, out var value) ? value
            : throw new InvalidDataException($"{path}: the soft-label store's metadata has no '{name}'.");
        if (!metadata.TryGetValue("format", out var format) || format != Format)
            throw new InvalidDataException($"{path}: not a sparse soft-label store (format '{format ?? "missing"}', expected '{Format}').");
        if (!int.TryParse(Meta("vocab_size"), CultureInfo.InvariantCulture, out var vocab) || vocab < 1
            || !int.TryParse(Meta("top_k"), CultureInfo.InvariantCulture, out var k) || k < 1 || k > vocab
            || !double.TryParse(Meta("temperature"), CultureInfo.InvariantCulture, out var temperature) || !(temperature > 0))
            throw new InvalidDataException($"{path}: vocab_size, top_k and temperature must be positive numbers, top_k at most vocab_size.");

        var tensors = SafetensorsReader.ReadAll(path);
        using var scope = NewDisposeScope();
        try
        {
            Tensor Part(string name) => tensors.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"{path}: the soft-label store has no tensor '{name}'.");
            var hashes = Part("sequence_hashes").to(ScalarType.Int64).data<long>().ToArray();
            var promptLengths = Part("prompt_lengths").to(ScalarType.Int32).data<int>().ToArray();
            var targetLengths = Part("target_lengths").to(ScalarType.Int32).data<int>().ToArray();
            int sequences = hashes.Length;
            if (promptLengths.Length != sequences || targetLengths.Length != sequences)
                throw new InvalidDataException($"{path}: sequence_hashes, prompt_lengths and target_lengths must have one entry per sequence.");
            var firstRows = new Dictionary<(long, int, int), long>(sequences);
            long rows = 0;
            for (int s = 0; s < sequences; s++)
            {
                if (promptLengths[s] < 1 || targetLengths[s] < 1)
                    throw new InvalidDataException($"{path}: sequence {s} has a prompt of {promptLengths[s]} and a target of {targetLengths[s]} tokens: both need tokens.");
                firstRows.TryAdd((hashes[s], promptLengths[s], promptLengths[s] + targetLengths[s]), rows);
                rows += targetLengths[s];
            }
            var ids = Part("top_ids");
            var logProbabilities = Part("top_log_probs");
            var remaining = Part("remaining_mass");
            if (!ids.shape.SequenceEqual([rows, k]) || !logProbabilities.shape.SequenceEqual([rows, k]) || !remaining.shape.SequenceEqual([rows]))
                throw new InvalidDataException($"{path}: top_ids and top_log_probs must be [{rows}, {k}] and remaining_mass [{rows}] for these sequences " +
                    $"(are [{string.Join(", ", ids.shape)}], [{string.Join(", ", logProbabilities.shape)}], [{string.Join(", ", remaining.shape)}]).");
            var topIds = ids.to(ScalarType.Int32).data<int>().ToArray();
            if (topIds.Any(id => id < 0 || id >= vocab))
                throw new InvalidDataException($"{path}: top_ids hold an id outside the store's vocabulary of {vocab}.");
            var info = new SparseSoftLabelStoreInfo(vocab, Meta("vocabulary_fingerprint"), temperature, k, metadata.GetValueOrDefault("mentor", ""), sequences, rows);
            return new SparseSoftLabelStore(info, firstRows, topIds, logProbabilities.to(ScalarType.Float32).data<float>().ToArray(),
                remaining.to(ScalarType.Float32).data<float>().ToArray());
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>A sequence's key: 8 bytes of SHA-256 over its ids (with its lengths, a collision needs about 2^32 sequences).</summary>
    private static long Hash(int[] tokens)
    {
        var bytes = new byte[tokens.Length * sizeof(int)];
        for (int i = 0; i < tokens.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * sizeof(int)), tokens[i]);
        return BinaryPrimitives.ReadInt64LittleEndian(SHA256.HashData(bytes));
    }
}
