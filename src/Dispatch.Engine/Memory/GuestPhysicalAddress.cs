namespace Dispatch.Memory;

/// <summary>An address in the guest's physical address space (what EPT translates, what devices decode).</summary>
public readonly record struct GuestPhysicalAddress(ulong Value) : IComparable<GuestPhysicalAddress>
{
    public static GuestPhysicalAddress operator +(GuestPhysicalAddress a, ulong offset) => new(a.Value + offset);

    public ulong PageNumber => Value >> 12;

    public int PageOffset => (int)(Value & 0xFFF);

    public int CompareTo(GuestPhysicalAddress other) => Value.CompareTo(other.Value);

    public override string ToString() => $"GPA 0x{Value:X}";
}
