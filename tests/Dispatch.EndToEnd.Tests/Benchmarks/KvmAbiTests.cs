using System.Runtime.InteropServices;
using Dispatch.Benchmarks.Kvm;

namespace Dispatch.EndToEnd.Tests.Benchmarks;

/// <summary>
/// The KVM ioctl numbers and structure layouts the KVM benchmark uses, against Linux's include/uapi/linux/kvm.h and
/// arch/x86/include/uapi/asm/kvm.h (values as compiled from the Linux 6.1 UAPI headers with sizeof/offsetof).
/// These run without /dev/kvm.
/// </summary>
public sealed class KvmAbiTests
{
    [Fact]
    public void IoctlNumbers_MatchTheKernelHeaders()
    {
        Assert.Equal(0xAE00u, KvmAbi.GetApiVersion);
        Assert.Equal(0xAE01u, KvmAbi.CreateVm);
        Assert.Equal(0xAE04u, KvmAbi.GetVcpuMmapSize);
        Assert.Equal(0xAE41u, KvmAbi.CreateVcpu);
        Assert.Equal(0x4020AE46u, KvmAbi.SetUserMemoryRegion);
        Assert.Equal(0xAE47u, KvmAbi.SetTssAddr);
        Assert.Equal(0xAE80u, KvmAbi.Run);
        Assert.Equal(0x8090AE81u, KvmAbi.GetRegs);
        Assert.Equal(0x4090AE82u, KvmAbi.SetRegs);
        Assert.Equal(0x8138AE83u, KvmAbi.GetSregs);
        Assert.Equal(0x4138AE84u, KvmAbi.SetSregs);
    }

    [Fact]
    public void Structures_HaveTheKernelSizesAndOffsets()
    {
        Assert.Equal(144, Marshal.SizeOf<KvmRegs>());
        Assert.Equal(64, (int)Marshal.OffsetOf<KvmRegs>(nameof(KvmRegs.R8)));
        Assert.Equal(128, (int)Marshal.OffsetOf<KvmRegs>(nameof(KvmRegs.Rip)));
        Assert.Equal(136, (int)Marshal.OffsetOf<KvmRegs>(nameof(KvmRegs.Rflags)));

        Assert.Equal(24, Marshal.SizeOf<KvmSegment>());
        Assert.Equal(12, (int)Marshal.OffsetOf<KvmSegment>(nameof(KvmSegment.Selector)));
        Assert.Equal(14, (int)Marshal.OffsetOf<KvmSegment>(nameof(KvmSegment.Type)));
        Assert.Equal(22, (int)Marshal.OffsetOf<KvmSegment>(nameof(KvmSegment.Unusable)));
        Assert.Equal(16, Marshal.SizeOf<KvmDtable>());

        Assert.Equal(312, Marshal.SizeOf<KvmSregs>());
        Assert.Equal(120, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Ss)));
        Assert.Equal(192, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Gdt)));
        Assert.Equal(224, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Cr0)));
        Assert.Equal(264, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Efer)));
        Assert.Equal(272, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.ApicBase)));
        Assert.Equal(280, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.InterruptBitmap)));

        Assert.Equal(32, Marshal.SizeOf<KvmUserspaceMemoryRegion>());
        Assert.Equal(24, (int)Marshal.OffsetOf<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.UserspaceAddr)));
    }

    [Fact]
    public void KvmRunOffsetsAndExitReasons_MatchTheKernelHeaders()
    {
        Assert.Equal(8, KvmAbi.RunExitReasonOffset);
        Assert.Equal((32, 33, 34, 36, 40), (KvmAbi.RunIoDirectionOffset, KvmAbi.RunIoSizeOffset, KvmAbi.RunIoPortOffset, KvmAbi.RunIoCountOffset, KvmAbi.RunIoDataOffsetOffset));
        Assert.Equal((32, 40, 48, 52), (KvmAbi.RunMmioPhysAddrOffset, KvmAbi.RunMmioDataOffset, KvmAbi.RunMmioLenOffset, KvmAbi.RunMmioIsWriteOffset));
        Assert.Equal((2u, 5u, 6u, 8u, 9u, 17u), (KvmAbi.ExitIo, KvmAbi.ExitHlt, KvmAbi.ExitMmio, KvmAbi.ExitShutdown, KvmAbi.ExitFailEntry, KvmAbi.ExitInternalError));
        Assert.Equal(12, KvmAbi.ApiVersion);
    }

    [Fact]
    public void Availability_IsReportedWithoutThrowing()
    {
        bool available = KvmDevice.IsAvailable(out string reason);
        Assert.True(available || reason.Length > 0);
        Assert.False(string.IsNullOrEmpty(KvmDevice.Backend()));
    }
}
