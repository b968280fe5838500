namespace Dispatch.Vmx;

/// <summary>
/// Exit qualification of an EPT violation (reason 48). Intel SDM Vol. 3C, 28.2.1, Table 28-7:
/// bit 0 data read, 1 data write, 2 instruction fetch, 3-5 the EPT entries allowed read / write / execute
/// (AND over the walk), 7 guest-linear address valid, 8 the access was to the final translation (valid if bit 7),
/// 12 NMI unblocking due to IRET.
/// </summary>
public readonly record struct EptViolationQualification(ulong Raw)
{
    public bool IsRead => (Raw & (1 << 0)) != 0;
    public bool IsWrite => (Raw & (1 << 1)) != 0;
    public bool IsInstructionFetch => (Raw & (1 << 2)) != 0;
    public bool EptReadable => (Raw & (1 << 3)) != 0;
    public bool EptWritable => (Raw & (1 << 4)) != 0;
    public bool EptExecutable => (Raw & (1 << 5)) != 0;
    public bool GuestLinearAddressValid => (Raw & (1 << 7)) != 0;
    public bool IsFinalTranslation => (Raw & (1 << 8)) != 0;
    public bool NmiUnblockingDueToIret => (Raw & (1 << 12)) != 0;
}
