using System.Runtime.CompilerServices;
using Dispatch.Vmx;

namespace Dispatch.Benchmarks.DispatchLatency;

/// <summary>
/// The exit reasons every mechanism handles: the ones a small VMM sees (exceptions, interrupts, CPUID, HLT, VMCALL, CR
/// access, I/O, MSRs, EPT violations). Each handler does the same trivial work (adds a constant to guest RAX) so that the
/// measurement is the dispatch, not the handler.
/// </summary>
public static class HandlerSet
{
    public static readonly ExitReason[] Reasons =
    [
        ExitReason.ExceptionOrNmi, ExitReason.ExternalInterrupt, ExitReason.Cpuid, ExitReason.Hlt, ExitReason.Vmcall,
        ExitReason.CrAccess, ExitReason.IoInstruction, ExitReason.Rdmsr, ExitReason.Wrmsr, ExitReason.EptViolation,
    ];

    /// <summary>Table size for the indexed mechanisms: the basic reasons 0-63.</summary>
    public const int TableSize = 64;
}

/// <summary>Handlers the JIT may inline, dispatched by the generated switch.</summary>
public partial struct InlinableHandlers
{
    [ExitHandler(ExitReason.ExceptionOrNmi)] public static ExitAction Exception(ref ExitContext c) { c.Registers.Rax += 1; return ExitAction.Complete; }
    [ExitHandler(ExitReason.ExternalInterrupt)] public static ExitAction Interrupt(ref ExitContext c) { c.Registers.Rax += 2; return ExitAction.Complete; }
    [ExitHandler(ExitReason.Cpuid)] public static ExitAction Cpuid(ref ExitContext c) { c.Registers.Rax += 3; return ExitAction.Complete; }
    [ExitHandler(ExitReason.Hlt)] public static ExitAction Hlt(ref ExitContext c) { c.Registers.Rax += 4; return ExitAction.Complete; }
    [ExitHandler(ExitReason.Vmcall)] public static ExitAction Vmcall(ref ExitContext c) { c.Registers.Rax += 5; return ExitAction.Complete; }
    [ExitHandler(ExitReason.CrAccess)] public static ExitAction CrAccess(ref ExitContext c) { c.Registers.Rax += 6; return ExitAction.Complete; }
    [ExitHandler(ExitReason.IoInstruction)] public static ExitAction Io(ref ExitContext c) { c.Registers.Rax += 7; return ExitAction.Complete; }
    [ExitHandler(ExitReason.Rdmsr)] public static ExitAction Rdmsr(ref ExitContext c) { c.Registers.Rax += 8; return ExitAction.Complete; }
    [ExitHandler(ExitReason.Wrmsr)] public static ExitAction Wrmsr(ref ExitContext c) { c.Registers.Rax += 9; return ExitAction.Complete; }
    [ExitHandler(ExitReason.EptViolation)] public static ExitAction Ept(ref ExitContext c) { c.Registers.Rax += 10; return ExitAction.Complete; }
}

/// <summary>The same handlers forced out of line: the case where a switch cannot inline its arms either.</summary>
public partial struct OutOfLineHandlers
{
    [ExitHandler(ExitReason.ExceptionOrNmi), MethodImpl(MethodImplOptions.NoInlining)] public static ExitAction Exception(ref ExitContext c) { c.Registers.Rax += 1; return ExitAction.Complete; }
    [ExitHandler(ExitReason.ExternalInterrupt), MethodImpl(MethodImplOptions.NoInlining)] public static ExitAction Interrupt(ref ExitContext c) { c.Registers.Rax += 2; return ExitAction.Complete; }
    [ExitHandler(ExitReason.Cpuid), MethodImpl(MethodImplOptions.NoInlining)] public static ExitAction Cpuid(ref ExitContext c) { c.Registers.Rax += 3; return ExitAction.Complete; }
    [ExitHandler(ExitReason.Hlt), MethodImpl(MethodImplOptions.NoInlining)] public static ExitAction Hlt(ref ExitContext c) { c.Registers.Rax += 4; return ExitAction.Complete; }
    [ExitHandler(ExitReason.Vmcall), MethodImpl(MethodImplOptions.NoInlining)] public static ExitAction Vmcall(ref ExitContext c) { c.Registers.Rax += 5; return ExitAction.Complete; }
    [ExitHandler(ExitReason.CrAccess), MethodImpl(MethodImplOptions.NoInlining)] public static ExitAction CrAccess(ref ExitContext c) { c.Registers.Rax += 6; return ExitAction.Complete; }
    [ExitHandler(ExitReason.IoInstruction), MethodImpl(MethodImplOptions.NoInlining)] public static ExitAction Io(ref ExitContext c) { c.Registers.Rax += 7; return ExitAction.Complete; }
    [ExitHandler(ExitReason.Rdmsr), MethodImpl(MethodImplOptions.NoInlining)] public static ExitAction Rdmsr(ref ExitContext c) { c.Registers.Rax += 8; return ExitAction.Complete; }
    [ExitHandler(ExitReason.Wrmsr), MethodImpl(MethodImplOptions.NoInlining)] public static ExitAction Wrmsr(ref ExitContext c) { c.Registers.Rax += 9; return ExitAction.Complete; }
    [ExitHandler(ExitReason.EptViolation), MethodImpl(MethodImplOptions.NoInlining)] public static ExitAction Ept(ref ExitContext c) { c.Registers.Rax += 10; return ExitAction.Complete; }
}

/// <summary>The baseline: the switch a person would write by hand, calling the inlinable handlers.</summary>
public struct HandWrittenInlinableSwitch : IExitHandler
{
    public ExitAction Dispatch(ref ExitContext c)
    {
        uint raw = c.RawExitReason;
        if ((raw & 0x8000_0000) != 0) return ExitAction.Unhandled;
        switch ((ExitReason)(raw & 0xFFFF))
        {
            case ExitReason.ExceptionOrNmi: return InlinableHandlers.Exception(ref c);
            case ExitReason.ExternalInterrupt: return InlinableHandlers.Interrupt(ref c);
            case ExitReason.Cpuid: return InlinableHandlers.Cpuid(ref c);
            case ExitReason.Hlt: return InlinableHandlers.Hlt(ref c);
            case ExitReason.Vmcall: return InlinableHandlers.Vmcall(ref c);
            case ExitReason.CrAccess: return InlinableHandlers.CrAccess(ref c);
            case ExitReason.IoInstruction: return InlinableHandlers.Io(ref c);
            case ExitReason.Rdmsr: return InlinableHandlers.Rdmsr(ref c);
            case ExitReason.Wrmsr: return InlinableHandlers.Wrmsr(ref c);
            case ExitReason.EptViolation: return InlinableHandlers.Ept(ref c);
            default: return ExitAction.Unhandled;
        }
    }
}

/// <summary>The hand-written switch over the out-of-line handlers.</summary>
public struct HandWrittenOutOfLineSwitch : IExitHandler
{
    public ExitAction Dispatch(ref ExitContext c)
    {
        uint raw = c.RawExitReason;
        if ((raw & 0x8000_0000) != 0) return ExitAction.Unhandled;
        switch ((ExitReason)(raw & 0xFFFF))
        {
            case ExitReason.ExceptionOrNmi: return OutOfLineHandlers.Exception(ref c);
            case ExitReason.ExternalInterrupt: return OutOfLineHandlers.Interrupt(ref c);
            case ExitReason.Cpuid: return OutOfLineHandlers.Cpuid(ref c);
            case ExitReason.Hlt: return OutOfLineHandlers.Hlt(ref c);
            case ExitReason.Vmcall: return OutOfLineHandlers.Vmcall(ref c);
            case ExitReason.CrAccess: return OutOfLineHandlers.CrAccess(ref c);
            case ExitReason.IoInstruction: return OutOfLineHandlers.Io(ref c);
            case ExitReason.Rdmsr: return OutOfLineHandlers.Rdmsr(ref c);
            case ExitReason.Wrmsr: return OutOfLineHandlers.Wrmsr(ref c);
            case ExitReason.EptViolation: return OutOfLineHandlers.Ept(ref c);
            default: return ExitAction.Unhandled;
        }
    }
}

/// <summary>The handler shape every table mechanism stores.</summary>
public delegate ExitAction ExitHandlerDelegate(ref ExitContext context);

/// <summary>One handler behind an interface (the strategy-object way of dispatching).</summary>
public interface IReasonHandler
{
    ExitAction Handle(ref ExitContext context);
}

/// <summary>An <see cref="IReasonHandler"/> per handler, each a sealed class calling its static handler.</summary>
public static class InterfaceHandlers
{
    public static IReasonHandler Create(ExitReason reason, bool inlinable) => (reason, inlinable) switch
    {
        (ExitReason.ExceptionOrNmi, true) => new I0(), (ExitReason.ExceptionOrNmi, false) => new O0(),
        (ExitReason.ExternalInterrupt, true) => new I1(), (ExitReason.ExternalInterrupt, false) => new O1(),
        (ExitReason.Cpuid, true) => new I2(), (ExitReason.Cpuid, false) => new O2(),
        (ExitReason.Hlt, true) => new I3(), (ExitReason.Hlt, false) => new O3(),
        (ExitReason.Vmcall, true) => new I4(), (ExitReason.Vmcall, false) => new O4(),
        (ExitReason.CrAccess, true) => new I5(), (ExitReason.CrAccess, false) => new O5(),
        (ExitReason.IoInstruction, true) => new I6(), (ExitReason.IoInstruction, false) => new O6(),
        (ExitReason.Rdmsr, true) => new I7(), (ExitReason.Rdmsr, false) => new O7(),
        (ExitReason.Wrmsr, true) => new I8(), (ExitReason.Wrmsr, false) => new O8(),
        (ExitReason.EptViolation, true) => new I9(), (ExitReason.EptViolation, false) => new O9(),
        _ => throw new ArgumentOutOfRangeException(nameof(reason)),
    };

    private sealed class I0 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => InlinableHandlers.Exception(ref c); }
    private sealed class I1 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => InlinableHandlers.Interrupt(ref c); }
    private sealed class I2 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => InlinableHandlers.Cpuid(ref c); }
    private sealed class I3 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => InlinableHandlers.Hlt(ref c); }
    private sealed class I4 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => InlinableHandlers.Vmcall(ref c); }
    private sealed class I5 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => InlinableHandlers.CrAccess(ref c); }
    private sealed class I6 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => InlinableHandlers.Io(ref c); }
    private sealed class I7 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => InlinableHandlers.Rdmsr(ref c); }
    private sealed class I8 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => InlinableHandlers.Wrmsr(ref c); }
    private sealed class I9 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => InlinableHandlers.Ept(ref c); }
    private sealed class O0 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => OutOfLineHandlers.Exception(ref c); }
    private sealed class O1 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => OutOfLineHandlers.Interrupt(ref c); }
    private sealed class O2 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => OutOfLineHandlers.Cpuid(ref c); }
    private sealed class O3 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => OutOfLineHandlers.Hlt(ref c); }
    private sealed class O4 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => OutOfLineHandlers.Vmcall(ref c); }
    private sealed class O5 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => OutOfLineHandlers.CrAccess(ref c); }
    private sealed class O6 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => OutOfLineHandlers.Io(ref c); }
    private sealed class O7 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => OutOfLineHandlers.Rdmsr(ref c); }
    private sealed class O8 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => OutOfLineHandlers.Wrmsr(ref c); }
    private sealed class O9 : IReasonHandler { public ExitAction Handle(ref ExitContext c) => OutOfLineHandlers.Ept(ref c); }
}

/// <summary>Delegates and function pointers for each handler, by reason.</summary>
public static unsafe class HandlerTables
{
    public static ExitHandlerDelegate Delegate(ExitReason reason, bool inlinable) => (reason, inlinable) switch
    {
        (ExitReason.ExceptionOrNmi, true) => InlinableHandlers.Exception, (ExitReason.ExceptionOrNmi, false) => OutOfLineHandlers.Exception,
        (ExitReason.ExternalInterrupt, true) => InlinableHandlers.Interrupt, (ExitReason.ExternalInterrupt, false) => OutOfLineHandlers.Interrupt,
        (ExitReason.Cpuid, true) => InlinableHandlers.Cpuid, (ExitReason.Cpuid, false) => OutOfLineHandlers.Cpuid,
        (ExitReason.Hlt, true) => InlinableHandlers.Hlt, (ExitReason.Hlt, false) => OutOfLineHandlers.Hlt,
        (ExitReason.Vmcall, true) => InlinableHandlers.Vmcall, (ExitReason.Vmcall, false) => OutOfLineHandlers.Vmcall,
        (ExitReason.CrAccess, true) => InlinableHandlers.CrAccess, (ExitReason.CrAccess, false) => OutOfLineHandlers.CrAccess,
        (ExitReason.IoInstruction, true) => InlinableHandlers.Io, (ExitReason.IoInstruction, false) => OutOfLineHandlers.Io,
        (ExitReason.Rdmsr, true) => InlinableHandlers.Rdmsr, (ExitReason.Rdmsr, false) => OutOfLineHandlers.Rdmsr,
        (ExitReason.Wrmsr, true) => InlinableHandlers.Wrmsr, (ExitReason.Wrmsr, false) => OutOfLineHandlers.Wrmsr,
        (ExitReason.EptViolation, true) => InlinableHandlers.Ept, (ExitReason.EptViolation, false) => OutOfLineHandlers.Ept,
        _ => throw new ArgumentOutOfRangeException(nameof(reason)),
    };

    public static delegate*<ref ExitContext, ExitAction> FunctionPointer(ExitReason reason, bool inlinable) => (reason, inlinable) switch
    {
        (ExitReason.ExceptionOrNmi, true) => &InlinableHandlers.Exception, (ExitReason.ExceptionOrNmi, false) => &OutOfLineHandlers.Exception,
        (ExitReason.ExternalInterrupt, true) => &InlinableHandlers.Interrupt, (ExitReason.ExternalInterrupt, false) => &OutOfLineHandlers.Interrupt,
        (ExitReason.Cpuid, true) => &InlinableHandlers.Cpuid, (ExitReason.Cpuid, false) => &OutOfLineHandlers.Cpuid,
        (ExitReason.Hlt, true) => &InlinableHandlers.Hlt, (ExitReason.Hlt, false) => &OutOfLineHandlers.Hlt,
        (ExitReason.Vmcall, true) => &InlinableHandlers.Vmcall, (ExitReason.Vmcall, false) => &OutOfLineHandlers.Vmcall,
        (ExitReason.CrAccess, true) => &InlinableHandlers.CrAccess, (ExitReason.CrAccess, false) => &OutOfLineHandlers.CrAccess,
        (ExitReason.IoInstruction, true) => &InlinableHandlers.Io, (ExitReason.IoInstruction, false) => &OutOfLineHandlers.Io,
        (ExitReason.Rdmsr, true) => &InlinableHandlers.Rdmsr, (ExitReason.Rdmsr, false) => &OutOfLineHandlers.Rdmsr,
        (ExitReason.Wrmsr, true) => &InlinableHandlers.Wrmsr, (ExitReason.Wrmsr, false) => &OutOfLineHandlers.Wrmsr,
        (ExitReason.EptViolation, true) => &InlinableHandlers.Ept, (ExitReason.EptViolation, false) => &OutOfLineHandlers.Ept,
        _ => throw new ArgumentOutOfRangeException(nameof(reason)),
    };
}
