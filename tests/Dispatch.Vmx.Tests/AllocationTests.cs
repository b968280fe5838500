namespace Dispatch.Vmx.Tests;

[CollectionDefinition("Allocation", DisableParallelization = true)]
public class AllocationCollection;

/// <summary>VMREAD and VMWRITE of any field allocate nothing (the hot path of every exit handler).</summary>
[Collection("Allocation")]
public class AllocationTests
{
    private sealed class Memory : IVmcsRegionMemory
    {
        public int PhysicalAddressWidth => 46;
        public uint ReadRevisionId(ulong address) => VmxCapabilities.DefaultRevisionId;
    }

    [Fact]
    public void VmreadVmwriteAndVmcsAccessAllocateNothing()
    {
        var cpu = new VmxProcessor(VmxCapabilities.WithVmwriteAnyField, new Memory());
        cpu.Vmxon(0x1000);
        cpu.Vmptrld(0x2000);
        Vmcs vmcs = cpu.CurrentVmcs!;
        ulong[] encodings = Enum.GetValues<VmcsField>().Select(f => (ulong)f).ToArray();
        ulong sink = 0;
        void Round()
        {
            foreach (ulong e in encodings)
            {
                cpu.Vmwrite(e, e * 3);
                cpu.Vmread(e, out ulong value);
                vmcs.Write((VmcsField)e, value);
                sink += vmcs.Read((VmcsField)e);
            }
            cpu.Vmread(0x0ABC, out _);
        }
        Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) Round();
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
        Assert.NotEqual(0UL, sink);
    }
}
