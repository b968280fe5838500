namespace Dispatch.Vmx;

/// <summary>Bits 10:8 of an interruption-information field. Intel SDM Vol. 3C, 25.8.3 and 28.2.2.</summary>
public enum InterruptionType : byte
{
    ExternalInterrupt = 0,
    Nmi = 2,
    HardwareException = 3,
    SoftwareInterrupt = 4,
    PrivilegedSoftwareException = 5,
    SoftwareException = 6,
    OtherEvent = 7,
}

/// <summary>
/// The interruption-information format shared by the VM-exit interruption information (0x4404), the IDT-vectoring
/// information (0x4408) and the VM-entry interruption information (0x4016): bits 7:0 vector, 10:8 type, 11 error code
/// valid, 12 NMI unblocking due to IRET, 31 valid. Intel SDM Vol. 3C, Table 25-17 and Table 28-19.
/// </summary>
public readonly record struct InterruptionInfo(uint Raw)
{
    public const uint ValidBit = 1u << 31;

    public byte Vector => (byte)Raw;
    public InterruptionType Type => (InterruptionType)((Raw >> 8) & 7);
    public bool HasErrorCode => (Raw & (1u << 11)) != 0;
    public bool NmiUnblockingDueToIret => (Raw & (1u << 12)) != 0;
    public bool IsValid => (Raw & ValidBit) != 0;

    public static InterruptionInfo Create(byte vector, InterruptionType type, bool hasErrorCode = false) =>
        new(vector | ((uint)type << 8) | (hasErrorCode ? 1u << 11 : 0) | ValidBit);

    /// <summary>A hardware exception; the error-code flag follows the SDM's list of vectors that push one.</summary>
    public static InterruptionInfo HardwareException(byte vector) =>
        Create(vector, InterruptionType.HardwareException, ExceptionVector.PushesErrorCode(vector));

    public override string ToString() => IsValid ? $"{Type} vector {Vector}{(HasErrorCode ? " +error code" : "")}" : "invalid";
}
