namespace MentorKd.Distillation.Training;

/// <summary>
/// A next-token distribution sent as its top k: the k log-probabilities as they are, the mass outside them spread
/// evenly over the other ids. Exact on the top k, an approximation beyond it (what the mentor-server sends and the
/// sparse soft-label store keeps).
/// </summary>
public static class TopKDistribution
{
    /// <summary>Writes the rebuilt log-probabilities into <paramref name="row"/> (one entry per vocabulary id).</summary>
    public static void Fill(Span<float> row, ReadOnlySpan<int> ids, ReadOnlySpan<float> logProbabilities, float remainingMass)
    {
        int rest = row.Length - ids.Length;
        row.Fill(rest > 0 ? MathF.Log(Math.Max(remainingMass, 1e-12f) / rest) : float.NegativeInfinity);
        for (int j = 0; j < ids.Length; j++)
        {
            int id = ids[j];
            if ((uint)id >= (uint)row.Length)
                throw new InvalidDataException($"soft labels name token {id}, outside the student's vocabulary of {row.Length}: mentor and student need the same tokenizer.");
            row[id] = logProbabilities[j];
        }
    }
}
