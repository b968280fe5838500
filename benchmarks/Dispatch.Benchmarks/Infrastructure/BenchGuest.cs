using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Vmx;
using Iced.Intel;

namespace Dispatch.Benchmarks.Infrastructure;

/// <summary>
/// Builds guests for the benchmarks: Iced-assembled 64-bit code at 0x100000 on <see cref="LongModeGuest"/>'s environment,
/// optionally with EPT tables and an MSR bitmap that the benchmark writes into guest memory itself.
/// </summary>
public static class BenchGuest
{
    public const ulong CodeAddress = LongModeGuest.DefaultLoadAddress;

    /// <summary>EPT paging structures (PML4, PDPT, PD), below the code.</summary>
    public const ulong EptPml4 = 0x2_0000, EptPdpt = 0x2_1000, EptPd = 0x2_2000;

    /// <summary>The 4 KiB MSR bitmap.</summary>
    public const ulong MsrBitmap = 0x3_0000;

    /// <summary>A guest-physical page outside RAM and outside the EPT map: every access is an EPT violation (device MMIO).</summary>
    public const ulong MmioAddress = 0x60_0000;

    public sealed record Options
    {
        public ulong MemoryBytes { get; init; } = 4 << 20;
        public PrimaryProcessorControls PrimaryControls { get; init; } =
            PrimaryProcessorControls.HltExiting | PrimaryProcessorControls.UnconditionalIoExiting;
        public PinBasedControls PinControls { get; init; }
        public bool Ept { get; init; }
        /// <summary>Tags the guest's translations with VPID 1, so VM entries that reload the guest state keep the TLB.</summary>
        public bool Vpid { get; init; }
        /// <summary>MSRs whose reads exit (the MSR bitmap is used when this or <see cref="ExitingMsrWrites"/> is set).</summary>
        public uint[]? ExitingMsrReads { get; init; }
        public uint[]? ExitingMsrWrites { get; init; }
        public uint ExceptionBitmap { get; init; } = 0xFFFF_FFFF;
    }

    public static (VirtualMachine Vm, VCpu VCpu, AssemblerResult Assembled) Create(Action<Assembler> program, Options? options = null)
    {
        options ??= new Options();
        var a = new Assembler(64);
        program(a);
        var stream = new MemoryStream();
        var assembled = a.Assemble(new StreamCodeWriter(stream), CodeAddress, BlockEncoderOptions.ReturnNewInstructionOffsets);
        var vm = new VirtualMachine(options.MemoryBytes);
        vm.Memory.Write(new GuestPhysicalAddress(CodeAddress), stream.ToArray());
        var vcpu = vm.CreateVCpu();

        bool bitmap = options.ExitingMsrReads is not null || options.ExitingMsrWrites is not null;
        var primary = options.PrimaryControls | (bitmap ? PrimaryProcessorControls.UseMsrBitmaps : 0);
        LongModeGuest.Setup(vcpu, CodeAddress, new LongModeGuestOptions
        {
            PrimaryControls = primary,
            PinControls = options.PinControls,
            SecondaryControls = (options.Ept ? SecondaryProcessorControls.EnableEpt : 0) | (options.Vpid ? SecondaryProcessorControls.EnableVpid : 0),
            ExceptionBitmap = options.ExceptionBitmap,
            // Map the MMIO window in the guest's own page tables; EPT decides that it is not RAM.
            IdentityMapSize = Math.Max(options.MemoryBytes, 8UL << 20),
        });
        if (options.Vpid) vcpu.Vmcs.Write(VmcsField.VirtualProcessorIdentifier, 1);
        if (options.Ept) WriteEpt(vcpu, options.MemoryBytes);
        if (bitmap) WriteMsrBitmap(vcpu, options.ExitingMsrReads ?? [], options.ExitingMsrWrites ?? []);
        return (vm, vcpu, assembled);
    }

    /// <summary>Identity-maps guest RAM with 2 MiB EPT pages (read, write, execute, write-back); everything else is unmapped.</summary>
    private static void WriteEpt(VCpu vcpu, ulong ramBytes)
    {
        var m = vcpu.Machine.Memory;
        const ulong rwx = 7, writeBack = 6UL << 3, large = 1UL << 7;
        m.WriteUInt64(new GuestPhysicalAddress(EptPml4), EptPdpt | rwx);
        m.WriteUInt64(new GuestPhysicalAddress(EptPdpt), EptPd | rwx);
        for (ulong page = 0; page < ramBytes; page += 2UL << 20)
            m.WriteUInt64(new GuestPhysicalAddress(EptPd + (page >> 21) * 8), page | rwx | writeBack | large);
        // EPTP: write-back paging-structure memory type, page-walk length 4 (encoded as 3).
        vcpu.Vmcs.Write(VmcsField.EptPointer, EptPml4 | (3UL << 3) | 6);
    }

    private static void WriteMsrBitmap(VCpu vcpu, uint[] reads, uint[] writes)
    {
        var m = vcpu.Machine.Memory;
        var bitmap = new byte[4096];
        foreach (var msr in reads) SetBit(bitmap, msr, 0);
        foreach (var msr in writes) SetBit(bitmap, msr, 2048);
        m.Write(new GuestPhysicalAddress(MsrBitmap), bitmap);
        vcpu.Vmcs.Write(VmcsField.MsrBitmapsAddress, MsrBitmap);

        static void SetBit(byte[] bitmap, uint msr, int offset)
        {
            if (msr >= 0xC000_0000) { offset += 1024; msr -= 0xC000_0000; }
            bitmap[offset + (int)(msr >> 3)] |= (byte)(1 << (int)(msr & 7));
        }
    }
}
