using System.Runtime.InteropServices;
using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Vmx;

namespace Dispatch.Benchmarks.Throughput;

public enum Workload
{
    /// <summary>xorshift and multiply-add in registers.</summary>
    Integer,
    /// <summary>Sum of an 8 MiB array, one cache line apart.</summary>
    Memory,
    /// <summary>SHA-256 of 1 MiB.</summary>
    Sha256,
}

/// <summary>The workloads' inputs, shared by the guest and native runs so both compute the same thing.</summary>
public static class WorkloadInputs
{
    // Settable so that a smoke run (the end-to-end tests, in process) can shrink them; benchmarks use the defaults.
    public static ulong IntegerIterations { get; set; } = 500_000;
    public static int MemoryBytes { get; set; } = 8 << 20;
    public const uint MemoryPasses = 1;
    public static int Sha256Bytes { get; set; } = 1 << 20;

    public const ulong CommandAddress = 0x9_0000;
    public const ulong MemoryArrayAddress = 0x40_0000;
    public const ulong ShaDataAddress = 0xC0_0000;
    public const ulong GuestMemoryBytes = 16 << 20;

    public static byte[] Data(int length)
    {
        var data = new byte[length];
        new Random(2024).NextBytes(data);
        return data;
    }
}

/// <summary>A guest VM with the workload image loaded and the inputs in its memory.</summary>
public sealed partial class GuestWorkloads : IDisposable
{
    private readonly VirtualMachine _vm;
    private readonly VCpu _vcpu;
    private HaltHandler _handler;

    public GuestWorkloads(string imagePath)
    {
        _vm = new VirtualMachine(WorkloadInputs.GuestMemoryBytes);
        _vm.Memory.Write(new GuestPhysicalAddress(LongModeGuest.DefaultLoadAddress), File.ReadAllBytes(imagePath));
        _vm.Memory.Write(new GuestPhysicalAddress(WorkloadInputs.MemoryArrayAddress), WorkloadInputs.Data(WorkloadInputs.MemoryBytes));
        _vm.Memory.Write(new GuestPhysicalAddress(WorkloadInputs.ShaDataAddress), WorkloadInputs.Data(WorkloadInputs.Sha256Bytes));
        _vcpu = _vm.CreateVCpu();
        LongModeGuest.Setup(_vcpu, LongModeGuest.DefaultLoadAddress);
    }

    /// <summary>Runs one workload to its HLT; returns its result and the guest instructions it retired.</summary>
    public (ulong Result, long Instructions) Run(Workload workload)
    {
        var (op, a0, a1, a2) = workload switch
        {
            Workload.Integer => (1UL, WorkloadInputs.IntegerIterations, 0UL, 0UL),
            Workload.Memory => (2UL, WorkloadInputs.MemoryArrayAddress, (ulong)WorkloadInputs.MemoryBytes / 8, (ulong)WorkloadInputs.MemoryPasses),
            _ => (3UL, WorkloadInputs.ShaDataAddress, (ulong)WorkloadInputs.Sha256Bytes, 0UL),
        };
        var m = _vm.Memory;
        m.Write(new GuestPhysicalAddress(WorkloadInputs.CommandAddress), MemoryMarshal.AsBytes(stackalloc ulong[] { op, a0, a1, a2, 0 }));
        _vcpu.Vmcs.Write(VmcsField.GuestRip, LongModeGuest.DefaultLoadAddress);
        _vcpu.Vmcs.Write(VmcsField.GuestRsp, 0x8_0000);
        long before = _vcpu.InstructionsRetired;
        var result = _vcpu.Run(ref _handler);
        if (result.Outcome != RunOutcome.Stopped) throw new InvalidOperationException($"Guest {workload} did not reach HLT: {result}");
        ulong value = workload == Workload.Sha256
            ? m.ReadUInt64(new GuestPhysicalAddress(WorkloadInputs.CommandAddress + 40))
            : m.ReadUInt64(new GuestPhysicalAddress(WorkloadInputs.CommandAddress + 32));
        return (value, _vcpu.InstructionsRetired - before);
    }

    public void Dispose() => _vm.Dispose();

    private partial struct HaltHandler
    {
        [ExitHandler(ExitReason.Hlt)]
        private static ExitAction Halt() => ExitAction.Stop;
    }

    private static readonly Dictionary<Workload, long> s_instructions = [];

    /// <summary>Remembers a count measured elsewhere in this process (the benchmark's setup run).</summary>
    public static void RememberInstructions(Workload workload, long instructions)
    {
        lock (s_instructions) s_instructions[workload] = instructions;
    }

    /// <summary>Guest instructions one run of <paramref name="workload"/> retires (measured once per process).</summary>
    public static long InstructionsPerRun(Workload workload)
    {
        lock (s_instructions)
        {
            if (s_instructions.TryGetValue(workload, out long n)) return n;
            using var guest = new GuestWorkloads(WorkloadBuild.Build().Image);
            n = guest.Run(workload).Instructions;
            s_instructions[workload] = n;
            return n;
        }
    }
}

/// <summary>The same workloads compiled natively, called through function pointers.</summary>
public sealed unsafe class NativeWorkloads : IDisposable
{
    private readonly nint _library;
    private readonly delegate* unmanaged<ulong, ulong> _integer;
    private readonly delegate* unmanaged<ulong*, nuint, uint, ulong> _memory;
    private readonly delegate* unmanaged<byte*, nuint, byte*, void> _sha256;
    private readonly byte* _array, _data, _digest;

    public NativeWorkloads(string libraryPath)
    {
        _library = NativeLibrary.Load(libraryPath);
        _integer = (delegate* unmanaged<ulong, ulong>)NativeLibrary.GetExport(_library, "work_integer");
        _memory = (delegate* unmanaged<ulong*, nuint, uint, ulong>)NativeLibrary.GetExport(_library, "work_memory");
        _sha256 = (delegate* unmanaged<byte*, nuint, byte*, void>)NativeLibrary.GetExport(_library, "work_sha256");
        _array = Copy(WorkloadInputs.Data(WorkloadInputs.MemoryBytes));
        _data = Copy(WorkloadInputs.Data(WorkloadInputs.Sha256Bytes));
        _digest = (byte*)NativeMemory.AlignedAlloc(64, 64);
    }

    private static byte* Copy(byte[] source)
    {
        var p = (byte*)NativeMemory.AlignedAlloc((nuint)source.Length, 4096);
        source.CopyTo(new Span<byte>(p, source.Length));
        return p;
    }

    public ulong Run(Workload workload)
    {
        switch (workload)
        {
            case Workload.Integer: return _integer(WorkloadInputs.IntegerIterations);
            case Workload.Memory: return _memory((ulong*)_array, (nuint)(WorkloadInputs.MemoryBytes / 8), WorkloadInputs.MemoryPasses);
            default:
                _sha256(_data, (nuint)WorkloadInputs.Sha256Bytes, _digest);
                return *(ulong*)_digest;
        }
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_array);
        NativeMemory.AlignedFree(_data);
        NativeMemory.AlignedFree(_digest);
        NativeLibrary.Free(_library);
    }
}
