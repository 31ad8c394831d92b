namespace MentorKd.Distillation.Teachers;

/// <summary>A hash that is the same in every process (string.GetHashCode is randomised per process), for seeding per-question randomness.</summary>
internal static class StableHash
{
    public static int Of(string text, int salt)
    {
        unchecked
        {
            uint hash = 2166136261u ^ (uint)salt;
            foreach (var c in text) hash = (hash ^ c) * 16777619u;
            return (int)hash;
        }
    }
}
