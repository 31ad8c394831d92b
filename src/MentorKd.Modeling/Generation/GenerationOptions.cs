namespace MentorKd.Modeling.Generation;

/// <summary>How to decode. Temperature 0 is greedy; otherwise temperature, then top-k, then top-p, then sampling.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 128;
    public double Temperature { get; init; }
    /// <summary>Keep only the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of tokens whose probability reaches p; 1 keeps all.</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Sequences per prompt.</summary>
    public int SamplesPerPrompt { get; init; } = 1;
    /// <summary>Same seed, same model, same prompts: same samples.</summary>
    public long? Seed { get; init; }
    public bool UseCache { get; init; } = true;

    public static GenerationOptions Greedy(int maxNewTokens) => new() { MaxNewTokens = maxNewTokens };

    /// <summary>Throws with the field's name on values that cannot decode.</summary>
    public void Validate()
    {
        if (MaxNewTokens <= 0) throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "MaxNewTokens must be positive.");
        if (!(Temperature >= 0)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be 0 (greedy) or positive.");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "TopK must be 0 (off) or positive.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "TopP must be in (0, 1].");
        if (SamplesPerPrompt <= 0) throw new ArgumentOutOfRangeException(nameof(SamplesPerPrompt), SamplesPerPrompt, "SamplesPerPrompt must be positive.");
    }
}
