using Dispatch.Generators.Tests.Handlers;
using Dispatch.Vmx;
using static Dispatch.Generators.Tests.Handlers.ExitSimulator;

namespace Dispatch.Generators.Tests;

/// <summary>Handlers compiled by the real generator: every handled reason and refinement reaches the right method.</summary>
public class DispatchTests
{
    private static (RefinedHandlers Handlers, ExitAction Action) Run(VCpu vcpu)
    {
        var handlers = new RefinedHandlers();
        ExitAction action = DispatchExit(ref handlers, vcpu);
        return (handlers, action);
    }

    [Theory]
    [InlineData(0x0u, 0x0u, "AnyLeaf")]
    [InlineData(0x1u, 0x0u, "AnyLeaf")]
    [InlineData(0x40000000u, 0x0u, "HypervisorLeaf")]
    [InlineData(0x7u, 0x0u, "Leaf7Subleaf0")]
    [InlineData(0x7u, 0x1u, "Leaf7Subleaf1")]
    [InlineData(0x7u, 0x2u, "AnyLeaf")]
    [InlineData(0xDu, 0x1u, "LeafDSubleaf1")]
    [InlineData(0xDu, 0x0u, "AnyLeaf")]
    public void Cpuid_dispatches_on_leaf_then_subleaf(uint leaf, uint subleaf, string expected)
    {
        (RefinedHandlers handlers, _) = Run(Exit(ExitReason.Cpuid, rax: leaf | 0xFFFF_FFFF_0000_0000UL, rcx: subleaf));
        Assert.Equal(expected, handlers.Last);
    }

    [Fact]
    public void Handler_writes_registers_through_ref_GuestRegisters_and_void_means_Complete()
    {
        VCpu vcpu = Exit(ExitReason.Cpuid, rax: 0x40000000);
        (_, ExitAction action) = Run(vcpu);
        Assert.Equal(0x40000001UL, vcpu.Registers.Rax);
        Assert.Equal(ExitAction.Complete, action);
    }

    [Theory]
    [InlineData((ushort)0x3F8, "SerialData")]
    [InlineData((ushort)0x3F9, "SerialControl")]
    [InlineData((ushort)0x3FD, "SerialControl")]
    [InlineData((ushort)0x3FA, "OtherPort")]
    [InlineData((ushort)0x80, "OtherPort")]
    public void Io_dispatches_on_port(ushort port, string expected)
    {
        (RefinedHandlers handlers, _) = Run(Exit(ExitReason.IoInstruction, IoQualification.Create(port, 1, isIn: false).Raw));
        Assert.Equal(expected, handlers.Last);
        Assert.Equal(port, handlers.LastValue);
    }

    [Theory]
    [InlineData(ExitReason.Rdmsr, "RdTsc")]
    [InlineData(ExitReason.Wrmsr, "WrTsc")]
    public void One_static_handler_serves_two_reasons_with_the_same_msr(ExitReason reason, string expected)
    {
        RefinedHandlers.LastStatic = null;
        (_, ExitAction action) = Run(Exit(reason, rcx: 0x10));
        Assert.Equal(expected, RefinedHandlers.LastStatic);
        Assert.Equal(ExitAction.Advance, action);
    }

    [Fact]
    public void Msr_dispatches_on_ecx_and_unknown_msr_falls_to_default()
    {
        Assert.Equal("Efer", Run(Exit(ExitReason.Rdmsr, rcx: 0xC0000080)).Handlers.Last);
        Assert.Equal("Fallback", Run(Exit(ExitReason.Rdmsr, rcx: 0x11)).Handlers.Last);
        Assert.Equal("Fallback", Run(Exit(ExitReason.Wrmsr, rcx: 0xC0000080)).Handlers.Last);
    }

    [Fact]
    public void CrAccess_dispatches_on_control_register_and_binds_the_qualification()
    {
        (RefinedHandlers cr3, _) = Run(Exit(ExitReason.CrAccess, CrAccessQualification.Create(3, CrAccessType.MovToCr, gpr: 5).Raw));
        Assert.Equal(("Cr3", 5UL), (cr3.Last, cr3.LastValue));
        Assert.Equal("Cr0", Run(Exit(ExitReason.CrAccess, CrAccessQualification.Create(0, CrAccessType.Clts).Raw)).Handlers.Last);
        Assert.Equal("Fallback", Run(Exit(ExitReason.CrAccess, CrAccessQualification.Create(4, CrAccessType.MovToCr).Raw)).Handlers.Last);
    }

    [Fact]
    public void Exceptions_dispatch_on_vector()
    {
        (RefinedHandlers pf, ExitAction resume) = Run(Exit(ExitReason.ExceptionOrNmi, interruption: InterruptionInfo.HardwareException(14).Raw));
        Assert.Equal(("PageFault", 14UL), (pf.Last, pf.LastValue));
        Assert.Equal(ExitAction.Resume, resume);

        (RefinedHandlers ud, ExitAction inject) = Run(Exit(ExitReason.ExceptionOrNmi, interruption: InterruptionInfo.HardwareException(6).Raw));
        Assert.Equal("InvalidOpcode", ud.Last);
        Assert.Equal(ExitActionKind.Inject, inject.Kind);
        Assert.Equal(ExceptionVector.InvalidOpcode, inject.Event.Vector);

        Assert.Equal("Fallback", Run(Exit(ExitReason.ExceptionOrNmi, interruption: InterruptionInfo.HardwareException(13).Raw)).Handlers.Last);
    }

    [Fact]
    public void Unrefined_reasons_bind_their_qualifications_and_vmcs()
    {
        (RefinedHandlers dr, _) = Run(Exit(ExitReason.MovDr, MovDrQualification.Create(7, fromDr: true, gpr: 0).Raw));
        Assert.Equal(("MovDr", 7UL), (dr.Last, dr.LastValue));

        (RefinedHandlers ept, ExitAction stop) = Run(Exit(ExitReason.EptViolation, qualification: 0b10));
        Assert.Equal(("Ept", 1UL), (ept.Last, ept.LastValue));
        Assert.Equal(ExitAction.Stop, stop);

        RefinedHandlers.LastStatic = null;
        Assert.Equal(ExitAction.Stop, Run(Exit(ExitReason.Hlt)).Action);
        Assert.Equal("Halt", RefinedHandlers.LastStatic);
    }

    [Fact]
    public void Unhandled_reasons_and_entry_failures_go_to_the_default_handler()
    {
        (RefinedHandlers rdtsc, ExitAction action) = Run(Exit(ExitReason.Rdtsc));
        Assert.Equal(("Fallback", (ulong)ExitReason.Rdtsc), (rdtsc.Last, rdtsc.LastValue));
        Assert.Equal(ExitAction.Unhandled, action);

        // Bit 31 set with a basic reason that has a handler: still an entry failure.
        uint failure = ExitReasonField.From(ExitReason.Cpuid, entryFailure: true).Raw;
        (RefinedHandlers entry, _) = Run(Exit(failure));
        Assert.Equal(("Fallback", (ulong)failure), (entry.Last, entry.LastValue));
    }

    [Fact]
    public void Nested_struct_dispatcher_without_default_returns_Unhandled()
    {
        var inner = new Outer.Middle.Inner();
        VCpu vcpu = Exit(ExitReason.Vmcall);
        Assert.Equal(ExitAction.Advance, DispatchExit(ref inner, vcpu));
        Assert.Equal(42UL, vcpu.Registers.Rax);

        Assert.Equal(ExitAction.Complete, DispatchExit(ref inner, Exit(ExitReason.Cpuid, rax: 1)));
        Assert.Equal(2, inner.Calls);

        Assert.Equal(ExitAction.Unhandled, DispatchExit(ref inner, Exit(ExitReason.Cpuid, rax: 2)));
        Assert.Equal(ExitAction.Unhandled, DispatchExit(ref inner, Exit(ExitReason.Hlt)));
        Assert.Equal(ExitAction.Unhandled, DispatchExit(ref inner, Exit(ExitReasonField.From(ExitReason.Vmcall, entryFailure: true).Raw)));
        Assert.Equal(2, inner.Calls);
    }

    [Fact]
    public void Dispatcher_types_implement_IExitHandler()
    {
        Assert.True(typeof(IExitHandler).IsAssignableFrom(typeof(RefinedHandlers)));
        Assert.True(typeof(IExitHandler).IsAssignableFrom(typeof(Outer.Middle.Inner)));
    }
}
