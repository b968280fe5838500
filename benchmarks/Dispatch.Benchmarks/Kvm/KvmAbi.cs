using System.Runtime.InteropServices;

namespace Dispatch.Benchmarks.Kvm;

/// <summary>
/// The parts of Linux's KVM user-space ABI (include/uapi/linux/kvm.h, arch/x86/include/uapi/asm/kvm.h) the benchmark uses:
/// ioctl numbers built the way the kernel's _IO/_IOR/_IOW macros build them, and the structures those ioctls pass.
/// </summary>
public static class KvmAbi
{
    public const int ApiVersion = 12;
    private const uint KvmIo = 0xAE;

    private const uint IocNone = 0, IocWrite = 1, IocRead = 2;

    /// <summary>asm-generic/ioctl.h: direction in bits 31:30, size in 29:16, type in 15:8, number in 7:0.</summary>
    public static uint Ioc(uint direction, uint type, uint number, int size) =>
        (direction << 30) | ((uint)size << 16) | (type << 8) | number;

    private static uint Io(uint number) => Ioc(IocNone, KvmIo, number, 0);
    private static uint IoR<T>(uint number) where T : unmanaged => Ioc(IocRead, KvmIo, number, Marshal.SizeOf<T>());
    private static uint IoW<T>(uint number) where T : unmanaged => Ioc(IocWrite, KvmIo, number, Marshal.SizeOf<T>());

    public static readonly uint GetApiVersion = Io(0x00);
    public static readonly uint CreateVm = Io(0x01);
    public static readonly uint GetVcpuMmapSize = Io(0x04);
    public static readonly uint CreateVcpu = Io(0x41);
    public static readonly uint SetUserMemoryRegion = IoW<KvmUserspaceMemoryRegion>(0x46);
    public static readonly uint SetTssAddr = Io(0x47);
    public static readonly uint Run = Io(0x80);
    public static readonly uint GetRegs = IoR<KvmRegs>(0x81);
    public static readonly uint SetRegs = IoW<KvmRegs>(0x82);
    public static readonly uint GetSregs = IoR<KvmSregs>(0x83);
    public static readonly uint SetSregs = IoW<KvmSregs>(0x84);

    // kvm_run: exit_reason at 8; the exit union at 32.
    public const int RunExitReasonOffset = 8;
    public const int RunIoDirectionOffset = 32, RunIoSizeOffset = 33, RunIoPortOffset = 34, RunIoCountOffset = 36, RunIoDataOffsetOffset = 40;
    public const int RunMmioPhysAddrOffset = 32, RunMmioDataOffset = 40, RunMmioLenOffset = 48, RunMmioIsWriteOffset = 52;

    public const uint ExitIo = 2, ExitHlt = 5, ExitMmio = 6, ExitShutdown = 8, ExitFailEntry = 9, ExitInternalError = 17;
    public const byte ExitIoOut = 1;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmRegs
{
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    public ulong Rip, Rflags;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmSegment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type;
    public byte Present, Dpl, Db, S, L, G, Avl;
    public byte Unusable;
    public byte Padding;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmDtable
{
    public ulong Base;
    public ushort Limit;
    public ushort Padding0, Padding1, Padding2;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmSregs
{
    public KvmSegment Cs, Ds, Es, Fs, Gs, Ss;
    public KvmSegment Tr, Ldt;
    public KvmDtable Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8;
    public ulong Efer;
    public ulong ApicBase;
    /// <summary>(KVM_NR_INTERRUPTS + 63) / 64 = 4 words.</summary>
    public fixed ulong InterruptBitmap[4];
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmUserspaceMemoryRegion
{
    public uint Slot;
    public uint Flags;
    public ulong GuestPhysAddr;
    public ulong MemorySize;
    public ulong UserspaceAddr;
}
