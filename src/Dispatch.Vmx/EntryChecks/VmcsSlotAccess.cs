namespace Dispatch.Vmx;

public sealed partial class Vmcs
{
    /// <summary>
    /// The raw storage, one 64-bit slot per full field (<see cref="SlotIndex"/>), for <see cref="VmEntryCheckCache"/>:
    /// it compares a hundred watched fields on every entry, which through <see cref="Read"/> would pay the encoding checks
    /// each time.
    /// </summary>
    internal ReadOnlySpan<ulong> Slots
    {
        get
        {
            OnGuestStateAreaAccess();
            return _slots;
        }
    }

    /// <summary>The storage slot of <paramref name="field"/> (a high access shares its 64-bit field's slot), or -1.</summary>
    internal static int SlotIndex(VmcsField field) => SlotOf((uint)field);
}
