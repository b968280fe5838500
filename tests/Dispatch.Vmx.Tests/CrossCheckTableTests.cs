namespace Dispatch.Vmx.Tests;

/// <summary>Every enum member matches its cross-check table and vice versa; every row names its sources.</summary>
public class CrossCheckTableTests
{
    private static List<(string Name, ulong Value, string[] Sources)> Load(string file)
    {
        var rows = new List<(string, ulong, string[])>();
        foreach (string line in File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Data", file)))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            string[] cells = line.Split('\t');
            ulong value = cells[1].StartsWith("0x") ? Convert.ToUInt64(cells[1][2..], 16) : ulong.Parse(cells[1]);
            rows.Add((cells[0], value, cells[2].Split(',')));
        }
        return rows;
    }

    private static void AssertSameSet<TEnum>(string file) where TEnum : struct, Enum
    {
        var table = Load(file).ToDictionary(r => r.Name, r => r.Value);
        var members = Enum.GetValues<TEnum>().Where(m => m.ToString() != "None")
            .ToDictionary(m => m.ToString(), m => Convert.ToUInt64(m));
        Assert.Equal(table.OrderBy(p => p.Key), members.OrderBy(p => p.Key));
    }

    [Fact] public void VmcsFieldsMatchTable() => AssertSameSet<VmcsField>("vmcs-fields.tsv");
    [Fact] public void ExitReasonsMatchTable() => AssertSameSet<ExitReason>("exit-reasons.tsv");
    [Fact] public void VmInstructionErrorsMatchTable() => AssertSameSet<VmInstructionError>("vm-instruction-errors.tsv");

    [Fact]
    public void EveryFullVmcsFieldHasTwoSources()
    {
        foreach (var row in Load("vmcs-fields.tsv").Where(r => (r.Value & 1) == 0))
            Assert.True(row.Sources.Length >= 2, $"{row.Name} has fewer than two sources");
    }

    [Fact]
    public void EveryHighVmcsFieldIsTwoSourcedOrDerivedFromATwoSourcedFullField()
    {
        var rows = Load("vmcs-fields.tsv");
        var full = rows.Where(r => (r.Value & 1) == 0).ToDictionary(r => r.Value);
        foreach (var row in rows.Where(r => (r.Value & 1) == 1))
        {
            Assert.True(full.ContainsKey(row.Value & ~1UL), $"{row.Name} has no full field");
            Assert.True(row.Sources.Count(s => s != "derived-from-full") >= 2 || full[row.Value & ~1UL].Sources.Length >= 2, row.Name);
            Assert.Equal(VmcsFieldWidth.Bits64, VmcsEncoding.Width((uint)row.Value));
        }
    }

    [Fact]
    public void ExitReasonsAndErrorsHaveTwoSourcesOrAreMarkedUnverified()
    {
        foreach (var row in Load("exit-reasons.tsv").Concat(Load("vm-instruction-errors.tsv")))
            Assert.True(row.Sources.Count(x => x != "unverified") >= 2 || row.Sources.Contains("unverified"), row.Name);
        var unverified = Load("exit-reasons.tsv").Where(r => r.Sources.Contains("unverified")).Select(r => r.Name);
        Assert.Equal(["Pconfig", "SppRelatedEvent", "Enclv", "Rdmsrlist", "Wrmsrlist"], unverified);
        Assert.All(Load("vm-instruction-errors.tsv"), r => Assert.True(r.Sources.Length >= 2, r.Name));
    }

    [Fact]
    public void EveryEncodingHasNoReservedBitsAndAConsistentHighForm()
    {
        foreach (VmcsField field in Enum.GetValues<VmcsField>())
        {
            Assert.False(VmcsEncoding.HasReservedBits((uint)field), field.ToString());
            Assert.Equal(field.ToString().EndsWith("High"), VmcsEncoding.IsHighAccess((uint)field));
        }
    }
}
