namespace Dispatch.Vmx;

/// <summary>
/// The VMCS fields one VM-entry check read. A check is a pure function of the fields it reads: while none of them
/// changes, its verdict cannot change (<see cref="VmEntryCheckCache"/>). Fixed capacity, so recording allocates nothing.
/// </summary>
internal sealed class VmEntryReadLog
{
    /// <summary>More distinct fields than any check reads (the widest, over six segments, reads 24).</summary>
    public const int Capacity = 64;

    private readonly VmcsField[] _fields = new VmcsField[Capacity];

    public int Count { get; private set; }

    /// <summary>Set when a check read more distinct fields than <see cref="Capacity"/>: its inputs are then unknown.</summary>
    public bool Overflowed { get; private set; }

    public void Clear()
    {
        Count = 0;
        Overflowed = false;
    }

    public void Record(VmcsField field)
    {
        for (int i = 0; i < Count; i++)
            if (_fields[i] == field) return;
        if (Count == Capacity)
        {
            Overflowed = true;
            return;
        }
        _fields[Count++] = field;
    }

    public VmcsField FieldAt(int index) => _fields[index];
}
