namespace MentorKd.Augmentation.Datasets;

/// <summary>A registered dataset as kept in the store under datasets/registry/{id}.json.</summary>
public sealed record DatasetRecord(string DatasetId, string Kind, string Key, string Sha256, long SizeBytes, int Rows,
    IReadOnlyList<string> Tasks, string? DerivedFrom, string? Producer);
