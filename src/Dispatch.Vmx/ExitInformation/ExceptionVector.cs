namespace Dispatch.Vmx;

/// <summary>Architectural exception vectors (Intel SDM Vol. 3A, 6.3.1, Table 6-1).</summary>
public static class ExceptionVector
{
    public const byte DivideError = 0;
    public const byte Debug = 1;
    public const byte Nmi = 2;
    public const byte Breakpoint = 3;
    public const byte Overflow = 4;
    public const byte BoundRange = 5;
    public const byte InvalidOpcode = 6;
    public const byte DeviceNotAvailable = 7;
    public const byte DoubleFault = 8;
    public const byte InvalidTss = 10;
    public const byte SegmentNotPresent = 11;
    public const byte StackFault = 12;
    public const byte GeneralProtection = 13;
    public const byte PageFault = 14;
    public const byte FloatingPointError = 16;
    public const byte AlignmentCheck = 17;
    public const byte MachineCheck = 18;
    public const byte SimdFloatingPoint = 19;
    public const byte Virtualization = 20;
    public const byte ControlProtection = 21;

    /// <summary>Whether delivering the exception pushes an error code (#DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP).</summary>
    public static bool PushesErrorCode(byte vector) => vector is DoubleFault or InvalidTss or SegmentNotPresent
        or StackFault or GeneralProtection or PageFault or AlignmentCheck or ControlProtection;
}
