using System.Reflection;
using System.Reflection.Emit;
using System.Text;
using TorchSharp;

namespace MentorKd.Modeling.Tests;

/// <summary>
/// Reads TorchSharp's IL to find every public API that creates a <see cref="Scalar"/> for one native call and does
/// not dispose it: such a temporary is unreachable while libtorch reads it, so a collection on any thread can
/// finalize (free) it mid-call. A method is unsafe when it creates one itself, or calls or makes a delegate of a
/// method that does. The answer is the list of documentation IDs that <c>build/BannedSymbols.TorchSharp.txt</c> bans.
/// </summary>
internal static class TorchSharpScalarAudit
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    public static IReadOnlyList<string> UnsafePublicApis()
    {
        var assembly = typeof(Scalar).Assembly;
        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (ReflectionTypeLoadException partial) { types = partial.Types.OfType<Type>().ToArray(); } // optional dependencies (protobuf for SummaryWriter)

        var callees = new Dictionary<MethodBase, List<MethodBase>>();
        var unsafeMethods = new HashSet<MethodBase>();
        foreach (var type in types.Where(t => t != typeof(Scalar) && t.Name != "ScalarExtensionMethods"))
            foreach (var method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
            {
                var targets = CalledMethods(method);
                callees[method] = targets;
                bool createsScalar = targets.Any(IsScalarFactory);
                bool disposesScalar = targets.Any(t => t.DeclaringType == typeof(Scalar) && t.Name == nameof(Scalar.Dispose));
                if (createsScalar && !disposesScalar) unsafeMethods.Add(method);
            }

        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var (method, targets) in callees)
                if (!unsafeMethods.Contains(method) && targets.Any(unsafeMethods.Contains)) grew = unsafeMethods.Add(method);
        }

        return unsafeMethods.Where(IsVisible).Select(DocumentationId).Distinct().Order(StringComparer.Ordinal).ToList();
    }

    private static bool IsScalarFactory(MethodBase method) =>
        method.DeclaringType == typeof(Scalar) && method.Name == "op_Implicit"
        || method.DeclaringType?.Name == "ScalarExtensionMethods" && method.Name.StartsWith("To") && method.Name.EndsWith("Scalar");

    private static bool IsVisible(MethodBase method) =>
        (method.IsPublic || method.IsFamily || method.IsFamilyOrAssembly) && IsVisible(method.DeclaringType!);

    private static bool IsVisible(Type type) => type.IsPublic || type.IsNestedPublic && IsVisible(type.DeclaringType!);

    // ---- IL reading: the methods a body calls, constructs or takes a delegate of ----

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    private static List<MethodBase> CalledMethods(MethodBase method)
    {
        var found = new List<MethodBase>();
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (Exception e) when (e is FileNotFoundException or TypeLoadException) { return found; }
        if (il is null) return found;
        var typeArguments = method.DeclaringType?.IsGenericType == true ? method.DeclaringType.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (int at = 0; at < il.Length;)
        {
            short value = il[at] == 0xFE ? (short)(0xFE00 | il[at + 1]) : il[at];
            var opCode = OpCodesByValue[value];
            at += opCode.Size;
            if (opCode.OperandType == OperandType.InlineMethod)
            {
                try
                {
                    if (method.Module.ResolveMethod(BitConverter.ToInt32(il, at), typeArguments, methodArguments) is { } target)
                        found.Add(target is MethodInfo { IsGenericMethod: true } generic ? generic.GetGenericMethodDefinition() : target);
                }
                catch (Exception e) when (e is FileNotFoundException or TypeLoadException or ArgumentException) { }
            }
            at += OperandSize(opCode, il, at);
        }
        return found;
    }

    private static int OperandSize(OpCode opCode, byte[] il, int at) => opCode.OperandType switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, at),
        _ => 4,
    };

    // ---- Documentation comment IDs, the names BannedSymbols.txt uses ----

    public static string DocumentationId(MethodBase method)
    {
        var owner = TypeName(method.DeclaringType!, inSignature: false);
        if (method is MethodInfo { IsSpecialName: true } accessor && (accessor.Name.StartsWith("get_") || accessor.Name.StartsWith("set_"))
            && method.DeclaringType!.GetProperty(accessor.Name[4..], Declared) is not null)
            return $"P:{owner}.{accessor.Name[4..]}";
        var name = method is ConstructorInfo ? "#ctor" : method.Name;
        if (method.IsGenericMethod) name += "``" + method.GetGenericArguments().Length;
        var parameters = method.GetParameters();
        var text = new StringBuilder($"M:{owner}.{name}");
        if (parameters.Length > 0) text.Append('(').Append(string.Join(",", parameters.Select(p => TypeName(p.ParameterType, inSignature: true)))).Append(')');
        if (method.Name is "op_Implicit" or "op_Explicit") text.Append('~').Append(TypeName(((MethodInfo)method).ReturnType, inSignature: true));
        return text.ToString();
    }

    private static string TypeName(Type type, bool inSignature)
    {
        if (type.IsByRef) return TypeName(type.GetElementType()!, inSignature) + "@";
        if (type.IsArray) return TypeName(type.GetElementType()!, inSignature) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        if (type.IsPointer) return TypeName(type.GetElementType()!, inSignature) + "*";
        if (type.IsGenericMethodParameter) return "``" + type.GenericParameterPosition;
        if (type.IsGenericTypeParameter) return "`" + type.GenericParameterPosition;
        var outer = type.IsNested ? TypeName(type.DeclaringType!, inSignature: false) + "." : type.Namespace is { Length: > 0 } ns ? ns + "." : "";
        var name = type.Name;
        int tick = name.IndexOf('`');
        if (tick < 0) return outer + name;
        if (!inSignature || !type.IsConstructedGenericType) return outer + name;
        return outer + name[..tick] + "{" + string.Join(",", type.GetGenericArguments().Select(a => TypeName(a, inSignature: true))) + "}";
    }
}
