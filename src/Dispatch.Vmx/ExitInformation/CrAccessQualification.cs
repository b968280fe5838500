namespace Dispatch.Vmx;

/// <summary>Access type in bits 5:4 of a control-register-access qualification.</summary>
public enum CrAccessType : byte
{
    MovToCr = 0,
    MovFromCr = 1,
    Clts = 2,
    Lmsw = 3,
}

/// <summary>
/// Exit qualification of a control-register access (reason 28). Intel SDM Vol. 3C, 28.2.1, Table 28-3:
/// bits 3:0 CR number, 5:4 access type, 6 LMSW operand type (1 = memory), 11:8 general-purpose register
/// (0 = RAX ... 15 = R15), 31:16 LMSW source data.
/// </summary>
public readonly record struct CrAccessQualification(ulong Raw)
{
    public int ControlRegister => (int)(Raw & 0xF);
    public CrAccessType AccessType => (CrAccessType)((Raw >> 4) & 3);
    public bool LmswMemoryOperand => (Raw & (1 << 6)) != 0;
    /// <summary>Bits 11:8 (not 10:8 as some headers say): RAX = 0 ... R15 = 15.</summary>
    public int GeneralRegister => (int)((Raw >> 8) & 0xF);
    public ushort LmswSourceData => (ushort)(Raw >> 16);

    public static CrAccessQualification Create(int cr, CrAccessType type, int gpr = 0, bool lmswMemory = false, ushort lmswData = 0) =>
        new((uint)(cr & 0xF) | ((ulong)type << 4) | (lmswMemory ? 1UL << 6 : 0) | ((uint)(gpr & 0xF) << 8) | ((ulong)lmswData << 16));
}
