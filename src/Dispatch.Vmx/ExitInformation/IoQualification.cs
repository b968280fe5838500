namespace Dispatch.Vmx;

/// <summary>
/// Exit qualification of an I/O-instruction exit (reason 30). Intel SDM Vol. 3C, 28.2.1, Table 28-5:
/// bits 2:0 size of access - 1, bit 3 direction (1 = IN), bit 4 string instruction, bit 5 REP prefix,
/// bit 6 operand encoding (1 = immediate), bits 31:16 port number.
/// </summary>
public readonly record struct IoQualification(ulong Raw)
{
    /// <summary>Access size in bytes: 1, 2 or 4.</summary>
    public int Size => (int)(Raw & 7) + 1;
    public bool IsIn => (Raw & (1 << 3)) != 0;
    public bool IsOut => !IsIn;
    public bool IsString => (Raw & (1 << 4)) != 0;
    public bool IsRep => (Raw & (1 << 5)) != 0;
    public bool IsImmediateOperand => (Raw & (1 << 6)) != 0;
    public ushort Port => (ushort)(Raw >> 16);

    public static IoQualification Create(ushort port, int size, bool isIn, bool isString = false, bool isRep = false, bool immediate = false)
    {
        if (size is not (1 or 2 or 4)) throw new ArgumentOutOfRangeException(nameof(size), "I/O access size is 1, 2 or 4 bytes.");
        ulong raw = (uint)(size - 1) | (isIn ? 1UL << 3 : 0) | (isString ? 1UL << 4 : 0) | (isRep ? 1UL << 5 : 0)
            | (immediate ? 1UL << 6 : 0) | ((ulong)port << 16);
        return new IoQualification(raw);
    }

    public override string ToString() =>
        $"{(IsIn ? "IN" : "OUT")}{(IsString ? "S" : "")} port 0x{Port:X4} size {Size}{(IsRep ? " REP" : "")}{(IsImmediateOperand ? " imm" : " dx")}";
}
