namespace Dispatch;

/// <summary>Control-register and EFER bits the engine acts on (Intel SDM Vol. 3A, 2.5 and 2.2.1).</summary>
public static class ControlRegisters
{
    public const ulong Cr0PE = 1 << 0;
    public const ulong Cr0MP = 1 << 1;
    public const ulong Cr0EM = 1 << 2;
    public const ulong Cr0TS = 1 << 3;
    public const ulong Cr0ET = 1 << 4;
    public const ulong Cr0NE = 1 << 5;
    public const ulong Cr0WP = 1 << 16;
    public const ulong Cr0AM = 1 << 18;
    public const ulong Cr0NW = 1 << 29;
    public const ulong Cr0CD = 1 << 30;
    public const ulong Cr0PG = 1UL << 31;

    public const ulong Cr4VME = 1 << 0;
    public const ulong Cr4PVI = 1 << 1;
    public const ulong Cr4TSD = 1 << 2;
    public const ulong Cr4DE = 1 << 3;
    public const ulong Cr4PSE = 1 << 4;
    public const ulong Cr4PAE = 1 << 5;
    public const ulong Cr4MCE = 1 << 6;
    public const ulong Cr4PGE = 1 << 7;
    public const ulong Cr4PCE = 1 << 8;
    public const ulong Cr4OSFXSR = 1 << 9;
    public const ulong Cr4OSXMMEXCPT = 1 << 10;
    public const ulong Cr4UMIP = 1 << 11;
    public const ulong Cr4VMXE = 1 << 13;
    public const ulong Cr4SMXE = 1 << 14;
    public const ulong Cr4FSGSBASE = 1 << 16;
    public const ulong Cr4PCIDE = 1 << 17;
    public const ulong Cr4OSXSAVE = 1 << 18;
    public const ulong Cr4SMEP = 1 << 20;
    public const ulong Cr4SMAP = 1 << 21;

    public const ulong EferSCE = 1 << 0;
    public const ulong EferLME = 1 << 8;
    public const ulong EferLMA = 1 << 10;
    public const ulong EferNXE = 1 << 11;
}
