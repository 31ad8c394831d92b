namespace MentorKd.Distillation.Tasks.Synthetic;

/// <summary>First names used by the generators (a fixed list, so a word-level vocabulary covers them).</summary>
internal static class Names
{
    public static readonly string[] First =
    [
        "Ada", "Alan", "Alice", "Amir", "Anna", "Aria", "Ben", "Bianca", "Bob", "Boris", "Carla", "Carlos", "Chen", "Claire",
        "Dana", "Dario", "David", "Dave", "Elena", "Eli", "Emma", "Eve", "Farid", "Fatima", "Felix", "Fiona", "Gabriel", "Grace",
        "Hana", "Hugo", "Ian", "Ingrid", "Isaac", "Ivy", "Jack", "Jade", "Jamal", "Jonas", "Julia", "Kai", "Kamala", "Karl",
        "Kenji", "Lara", "Leon", "Lily", "Lucas", "Luis", "Maya", "Marco", "Maria", "Milan", "Mira", "Nadia", "Nina", "Noah",
        "Olga", "Omar", "Oscar", "Paula", "Pedro", "Priya", "Quinn", "Rafael", "Rosa", "Ruth", "Sam", "Sara", "Sofia", "Tariq",
        "Teo", "Tom", "Uma", "Victor", "Vera", "Wendy", "Xavier", "Yara", "Yusuf", "Zane", "Zoe", "Brody", "Cody", "Derek",
        "Enzo", "Gus", "Heidi", "Iris", "Joy", "Kirk", "Lev", "Mateo", "Ned", "Opal", "Penny", "Reza", "Soren", "Troy",
    ];

    /// <summary>A name that is none of <paramref name="taken"/>.</summary>
    public static string Except(Random random, IEnumerable<string> taken)
    {
        var free = First.Except(taken).ToArray();
        return free[random.Next(free.Length)];
    }

    /// <summary><paramref name="count"/> different names, in random order.</summary>
    public static string[] Distinct(Random random, int count)
    {
        var shuffled = (string[])First.Clone();
        random.Shuffle(shuffled);
        return shuffled[..count];
    }
}
