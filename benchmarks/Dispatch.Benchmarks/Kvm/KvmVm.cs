using System.Runtime.InteropServices;

namespace Dispatch.Benchmarks.Kvm;

/// <summary>
/// A minimal KVM virtual machine: one memory slot at guest-physical 0, one vCPU in 16-bit real mode with CS = DS = 0,
/// and a run loop that counts the exits it serves. Guest-physical addresses past the slot are MMIO.
/// </summary>
public sealed unsafe class KvmVm : IDisposable
{
    public const ulong CodeAddress = 0x1000;
    private readonly int _kvm, _vm, _vcpu;
    private readonly nint _run;
    private readonly nuint _runSize;
    private readonly byte* _memory;

    public KvmVm(ReadOnlySpan<byte> code, ulong memorySize = 0x10000)
    {
        _kvm = KvmNative.Check(KvmNative.Open(KvmDevice.Path, KvmNative.ORdWr | KvmNative.OCloexec), "open /dev/kvm");
        _vm = KvmNative.Check(KvmNative.Ioctl(_kvm, KvmAbi.CreateVm), "KVM_CREATE_VM");
        // Intel without unrestricted guest needs three pages for the real-mode TSS; harmless elsewhere.
        KvmNative.Ioctl(_vm, KvmAbi.SetTssAddr, unchecked((nint)0xFFFB_D000));

        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)memorySize, 4096);
        NativeMemory.Clear(_memory, (nuint)memorySize);
        code.CopyTo(new Span<byte>(_memory + CodeAddress, code.Length));
        var region = new KvmUserspaceMemoryRegion { Slot = 0, GuestPhysAddr = 0, MemorySize = memorySize, UserspaceAddr = (ulong)_memory };
        KvmNative.Check(KvmNative.Ioctl(_vm, KvmAbi.SetUserMemoryRegion, (nint)(&region)), "KVM_SET_USER_MEMORY_REGION");

        _vcpu = KvmNative.Check(KvmNative.Ioctl(_vm, KvmAbi.CreateVcpu, 0), "KVM_CREATE_VCPU");
        _runSize = (nuint)KvmNative.Check(KvmNative.Ioctl(_kvm, KvmAbi.GetVcpuMmapSize), "KVM_GET_VCPU_MMAP_SIZE");
        _run = KvmNative.Mmap(0, _runSize, KvmNative.ProtRead | KvmNative.ProtWrite, KvmNative.MapShared, _vcpu, 0);
        if (_run == -1) throw new InvalidOperationException($"mmap of kvm_run failed: errno {Marshal.GetLastPInvokeError()}");

        KvmSregs sregs;
        KvmNative.Check(KvmNative.Ioctl(_vcpu, KvmAbi.GetSregs, (nint)(&sregs)), "KVM_GET_SREGS");
        sregs.Cs.Base = 0; sregs.Cs.Selector = 0;
        sregs.Ds.Base = 0; sregs.Ds.Selector = 0;
        sregs.Es.Base = 0; sregs.Es.Selector = 0;
        sregs.Ss.Base = 0; sregs.Ss.Selector = 0;
        KvmNative.Check(KvmNative.Ioctl(_vcpu, KvmAbi.SetSregs, (nint)(&sregs)), "KVM_SET_SREGS");
    }

    /// <summary>Exits of each kind served by the last <see cref="RunToEnd"/>.</summary>
    public long IoExits, MmioExits, HltExits;

    /// <summary>
    /// Starts the guest at <see cref="CodeAddress"/> and serves its exits until it writes to <paramref name="endPort"/> or,
    /// when <paramref name="stopOnHlt"/>, until it halts. OUT to other ports and MMIO writes are accepted and dropped.
    /// </summary>
    public void RunToEnd(ushort endPort, bool stopOnHlt)
    {
        var regs = new KvmRegs { Rip = CodeAddress, Rflags = 2, Rsp = 0x8000 };
        KvmNative.Check(KvmNative.Ioctl(_vcpu, KvmAbi.SetRegs, (nint)(&regs)), "KVM_SET_REGS");
        IoExits = MmioExits = HltExits = 0;
        byte* run = (byte*)_run;
        while (true)
        {
            if (KvmNative.Ioctl(_vcpu, KvmAbi.Run) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == 4) continue; // EINTR
                throw new InvalidOperationException($"KVM_RUN failed: errno {errno}");
            }
            uint reason = *(uint*)(run + KvmAbi.RunExitReasonOffset);
            switch (reason)
            {
                case KvmAbi.ExitIo:
                    IoExits++;
                    if (*(ushort*)(run + KvmAbi.RunIoPortOffset) == endPort) return;
                    if (run[KvmAbi.RunIoDirectionOffset] != KvmAbi.ExitIoOut)
                        run[*(ulong*)(run + KvmAbi.RunIoDataOffsetOffset)] = 0; // IN reads 0
                    break;
                case KvmAbi.ExitMmio:
                    MmioExits++;
                    if (run[KvmAbi.RunMmioIsWriteOffset] == 0) *(ulong*)(run + KvmAbi.RunMmioDataOffset) = 0;
                    break;
                case KvmAbi.ExitHlt:
                    HltExits++;
                    if (stopOnHlt) return;
                    break;
                default:
                    throw new InvalidOperationException($"Unexpected KVM exit {reason}");
            }
        }
    }

    public void Dispose()
    {
        if (_run != 0) KvmNative.Munmap(_run, _runSize);
        KvmNative.Close(_vcpu);
        KvmNative.Close(_vm);
        KvmNative.Close(_kvm);
        NativeMemory.AlignedFree(_memory);
    }
}
