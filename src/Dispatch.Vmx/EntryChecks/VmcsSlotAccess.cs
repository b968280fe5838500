namespace Dispatch.Vmx;

public sealed partial class Vmcs
{
    /// <summary>
    /// The raw storage, one 64-bit slot per field (<see cref="VmcsLayout.SlotOf"/>), for <see cref="VmEntryCheckCache"/>:
    /// it compares a hundred watched fields on every entry, which through <see cref="Read"/> would pay the encoding checks
    /// each time.
    /// </summary>
    internal ReadOnlySpan<ulong> Slots => _values;
}
