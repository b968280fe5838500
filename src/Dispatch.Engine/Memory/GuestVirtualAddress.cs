namespace Dispatch.Memory;

/// <summary>A linear address as the guest's code sees it, before its page tables translate it.</summary>
public readonly record struct GuestVirtualAddress(ulong Value)
{
    public static GuestVirtualAddress operator +(GuestVirtualAddress a, ulong offset) => new(a.Value + offset);

    /// <summary>Canonical in 4-level paging: bits 63:47 all equal.</summary>
    public bool IsCanonical => Dispatch.Vmx.LinearAddress.IsCanonical(Value);

    public override string ToString() => $"GVA 0x{Value:X}";
}
