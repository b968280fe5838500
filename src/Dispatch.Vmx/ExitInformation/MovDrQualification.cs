namespace Dispatch.Vmx;

/// <summary>
/// Exit qualification of a MOV DR exit (reason 29). Intel SDM Vol. 3C, 28.2.1, Table 28-4:
/// bits 2:0 debug register, bit 4 direction (0 = MOV to DR, 1 = MOV from DR), bits 11:8 general-purpose register.
/// </summary>
public readonly record struct MovDrQualification(ulong Raw)
{
    public int DebugRegister => (int)(Raw & 7);
    public bool IsMovFromDr => (Raw & (1 << 4)) != 0;
    public int GeneralRegister => (int)((Raw >> 8) & 0xF);

    public static MovDrQualification Create(int dr, bool fromDr, int gpr) =>
        new((uint)(dr & 7) | (fromDr ? 1UL << 4 : 0) | ((uint)(gpr & 0xF) << 8));
}
