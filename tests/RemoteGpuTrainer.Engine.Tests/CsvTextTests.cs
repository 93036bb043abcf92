using System.Collections;
using System.Reflection;
using System.Text.RegularExpressions;
using RemoteGpuTrainer.Engine.Model;
using Xunit;

namespace RemoteGpuTrainer.Engine.Tests;

/// <summary>
/// Export-Csv writes each property as its ToString(): every output type, filled with sample values to
/// the last nested level, must give text a spreadsheet can use, never a type name or a record dump.
/// </summary>
public class CsvTextTests
{
    static readonly Regex NotText = new(@"RemoteGpuTrainer\.|System\.[A-Z]|\w+ \{ \w+ = |\[\]$", RegexOptions.CultureInvariant);

    public static TheoryData<string> OutputTypes() => new(typeof(GpuHost).Assembly.GetTypes()
        .Where(t => t.IsPublic && t.Namespace == typeof(GpuHost).Namespace && t.IsClass && !t.IsAbstract && t.Name.StartsWith("Gpu", StringComparison.Ordinal)
            && !t.IsGenericTypeDefinition && !typeof(IEnumerable).IsAssignableFrom(t))
        .Select(t => t.FullName!).Order());

    [Theory]
    [MemberData(nameof(OutputTypes))]
    public void Every_column_of_an_output_type_exports_as_readable_text(string typeName)
    {
        var type = typeof(GpuHost).Assembly.GetType(typeName)!;
        var sample = Sample(type, 0)!;
        var bad = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0)
            .Select(p => (p.Name, Text: p.GetValue(sample)?.ToString() ?? ""))
            .Where(c => NotText.IsMatch(c.Text)).Select(c => $"{c.Name} = {c.Text}").ToList();
        Assert.True(bad.Count == 0, $"{type.Name}:\n" + string.Join("\n", bad));
    }

    [Fact]
    public void The_check_catches_a_type_name_and_a_record_dump()
    {
        Assert.Matches(NotText, new[] { "a" }.ToString()!);
        Assert.Matches(NotText, new GpuDangerClockProbe("x").ToString());
        Assert.DoesNotMatch(NotText, "8× H100 80GB, max 71 °C");
    }

    sealed record GpuDangerClockProbe(string What);

    /// <summary>An instance with every settable property given a value, nested objects and lists included (one element).</summary>
    internal static object? Sample(Type t, int depth)
    {
        if (depth > 4) return null;
        var u = Nullable.GetUnderlyingType(t) ?? t;
        if (u == typeof(string)) return "text";
        if (u == typeof(bool)) return true;
        if (u.IsEnum) return Enum.GetValues(u).GetValue(0);
        if (u == typeof(int) || u == typeof(long) || u == typeof(double) || u == typeof(decimal) || u == typeof(float) || u == typeof(short) || u == typeof(byte))
            return Convert.ChangeType(3, u);
        if (u == typeof(DateTimeOffset)) return new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
        if (u == typeof(DateTime)) return new DateTime(2026, 12, 1, 10, 0, 0, DateTimeKind.Utc);
        if (u == typeof(TimeSpan)) return TimeSpan.FromMinutes(90);
        if (u == typeof(Uri)) return new Uri("https://example.org/x");
        if (u.IsArray)
        {
            var a = Array.CreateInstance(u.GetElementType()!, 1);
            a.SetValue(Sample(u.GetElementType()!, depth + 1), 0);
            return a;
        }
        if (u.IsGenericType && u.GetGenericTypeDefinition() is var g && (g == typeof(IReadOnlyDictionary<,>) || g == typeof(Dictionary<,>) || g == typeof(IDictionary<,>)))
        {
            var d = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(u.GetGenericArguments()))!;
            d[Sample(u.GetGenericArguments()[0], depth + 1)!] = Sample(u.GetGenericArguments()[1], depth + 1);
            return d;
        }
        if (u.IsGenericType && (u.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) || u.GetGenericTypeDefinition() == typeof(List<>) || u.GetGenericTypeDefinition() == typeof(IEnumerable<>)))
        {
            var l = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(u.GetGenericArguments()))!;
            l.Add(Sample(u.GetGenericArguments()[0], depth + 1));
            return l;
        }
        // A type that converts from an array (a list type of the model): built from one.
        var fromArray = u.GetMethods(BindingFlags.Public | BindingFlags.Static).FirstOrDefault(m => m.Name == "op_Implicit" && m.ReturnType == u && m.GetParameters()[0].ParameterType.IsArray);
        if (fromArray is not null) return fromArray.Invoke(null, new[] { Sample(fromArray.GetParameters()[0].ParameterType, depth) });
        var ctor = u.GetConstructors().OrderByDescending(c => c.GetParameters().Length).FirstOrDefault();
        if (ctor is null) return null;
        var obj = ctor.Invoke(ctor.GetParameters().Select(p => Sample(p.ParameterType, depth + 1)).ToArray());
        foreach (var p in u.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.SetMethod!.IsPublic))
            p.SetValue(obj, Sample(p.PropertyType, depth + 1));
        return obj;
    }
}
