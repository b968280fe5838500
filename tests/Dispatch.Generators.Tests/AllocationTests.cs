using Dispatch.Generators.Tests.Handlers;
using Dispatch.Vmx;

namespace Dispatch.Generators.Tests;

[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>The generated dispatch allocates nothing: no boxing, closures, delegates or params arrays.</summary>
[Collection(nameof(AllocationCollection))]
public class AllocationTests
{
    private const int Dispatches = 1_000_000;

    [Fact]
    public void A_million_dispatches_allocate_nothing()
    {
        var handlers = new RefinedHandlers();
        var vcpu = new VirtualMachine(1 << 20).CreateVCpu();
        (uint Reason, ulong Qualification, uint Interruption, ulong Rax, ulong Rcx)[] exits =
        [
            ((uint)ExitReason.Cpuid, 0, 0, 0x40000000, 0),
            ((uint)ExitReason.Cpuid, 0, 0, 7, 1),
            ((uint)ExitReason.Cpuid, 0, 0, 3, 0),
            ((uint)ExitReason.IoInstruction, IoQualification.Create(0x3F8, 1, false).Raw, 0, 0, 0),
            ((uint)ExitReason.IoInstruction, IoQualification.Create(0x60, 1, true).Raw, 0, 0, 0),
            ((uint)ExitReason.Rdmsr, 0, 0, 0, 0x10),
            ((uint)ExitReason.CrAccess, CrAccessQualification.Create(3, CrAccessType.MovToCr).Raw, 0, 0, 0),
            ((uint)ExitReason.ExceptionOrNmi, 0, InterruptionInfo.HardwareException(6).Raw, 0, 0),
            ((uint)ExitReason.EptViolation, 2, 0, 0, 0),
            ((uint)ExitReason.Rdtsc, 0, 0, 0, 0),
            (ExitReasonField.From(ExitReason.EntryFailureGuestState, entryFailure: true).Raw, 0, 0, 0, 0),
        ];

        ulong checksum = 0;
        for (int round = 0; round < 2; round++)
        {
            GC.Collect();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Dispatches; i++)
            {
                var exit = exits[i % exits.Length];
                ExitSimulator.Set(vcpu, exit.Reason, exit.Qualification, exit.Interruption, exit.Rax, exit.Rcx);
                var context = new ExitContext(vcpu);
                checksum += (ulong)handlers.Dispatch(ref context).Kind;
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            // Round 0 warms up (tiered JIT, statics); round 1 is measured.
            if (round == 1)
                Assert.Equal(0, allocated);
        }
        Assert.NotEqual(0UL, checksum);
    }
}
