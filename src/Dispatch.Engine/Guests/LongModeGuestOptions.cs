using Dispatch.Vmx;

namespace Dispatch.Guests;

/// <summary>How <see cref="LongModeGuest"/> prepares a guest and its VMCS.</summary>
public sealed record LongModeGuestOptions
{
    /// <summary>Bytes of guest-physical memory identity-mapped (2 MiB pages, writable, executable). At most 512 GiB.</summary>
    public ulong IdentityMapSize { get; init; }

    /// <summary>Initial RSP.</summary>
    public ulong StackPointer { get; init; } = 0x8_0000;

    /// <summary>Privilege level the guest starts at: 0 (kernel) or 3 (user; the identity map is then user-accessible).</summary>
    public int Cpl { get; init; }

    /// <summary>Primary processor-based controls. Default: HLT exiting and unconditional I/O exiting.</summary>
    public PrimaryProcessorControls PrimaryControls { get; init; } =
        PrimaryProcessorControls.HltExiting | PrimaryProcessorControls.UnconditionalIoExiting;

    /// <summary>Secondary processor-based controls (activated when non-zero).</summary>
    public SecondaryProcessorControls SecondaryControls { get; init; }

    /// <summary>Pin-based controls.</summary>
    public PinBasedControls PinControls { get; init; }

    /// <summary>Exception bitmap. Default: every exception exits, so a guest without an IDT of its own reports faults to the host.</summary>
    public uint ExceptionBitmap { get; init; } = 0xFFFF_FFFF;

    /// <summary>Whether SYSCALL is enabled (EFER.SCE).</summary>
    public bool EnableSyscall { get; init; }
}
