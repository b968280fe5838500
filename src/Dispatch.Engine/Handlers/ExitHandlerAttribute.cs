using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// Marks a method of a <c>partial</c> class or struct as the handler of one VM-exit reason. The Dispatch source generator
/// turns every marked method of the type into one <c>switch</c> over the basic exit reason (VM_EXIT_REASON, 0x4402),
/// implementing <see cref="IExitHandler"/>.
/// <para>
/// Refinements narrow a handler to one value of the field that refines its reason: <see cref="Port"/> for
/// <see cref="ExitReason.IoInstruction"/>, <see cref="Msr"/> for <see cref="ExitReason.Rdmsr"/> and <see cref="ExitReason.Wrmsr"/>,
/// <see cref="Leaf"/> and <see cref="Subleaf"/> for <see cref="ExitReason.Cpuid"/>, <see cref="ControlRegister"/> for
/// <see cref="ExitReason.CrAccess"/>, <see cref="Vector"/> for <see cref="ExitReason.ExceptionOrNmi"/>. A handler without a
/// refinement serves the values that no refined handler of the same reason claims.
/// </para>
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true, Inherited = false)]
public sealed class ExitHandlerAttribute(ExitReason reason) : Attribute
{
    public ExitReason Reason { get; } = reason;

    /// <summary>I/O port (bits 31:16 of the I/O exit qualification). Only for <see cref="ExitReason.IoInstruction"/>.</summary>
    public int Port { get; set; }

    /// <summary>MSR index (guest ECX). Only for <see cref="ExitReason.Rdmsr"/> and <see cref="ExitReason.Wrmsr"/>.</summary>
    public uint Msr { get; set; }

    /// <summary>CPUID leaf (guest EAX). Only for <see cref="ExitReason.Cpuid"/>.</summary>
    public uint Leaf { get; set; }

    /// <summary>CPUID subleaf (guest ECX). Only for <see cref="ExitReason.Cpuid"/>, together with <see cref="Leaf"/>.</summary>
    public uint Subleaf { get; set; }

    /// <summary>Control register number (bits 3:0 of the CR-access qualification). Only for <see cref="ExitReason.CrAccess"/>.</summary>
    public int ControlRegister { get; set; }

    /// <summary>Exception vector (bits 7:0 of the VM-exit interruption information). Only for <see cref="ExitReason.ExceptionOrNmi"/>.</summary>
    public int Vector { get; set; }
}
