using Microsoft.CodeAnalysis;

namespace Dispatch.Generators.Diagnostics;

/// <summary>Every diagnostic of the Dispatch generator and analyzer. New ids go in AnalyzerReleases.Unshipped.md.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Dispatch";

    public static readonly DiagnosticDescriptor DuplicateHandler = new(
        "DSP0001",
        "Duplicate exit handler",
        "'{0}' is already handled by '{1}'",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Each exit reason, and each refining value of it, has exactly one handler in a dispatcher type.");

    public static readonly DiagnosticDescriptor RefinementNotApplicable = new(
        "DSP0002",
        "Refinement does not apply to the exit reason",
        "{0} does not refine {1}; {0} applies to {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Port refines IoInstruction, Msr refines Rdmsr and Wrmsr, Leaf and Subleaf refine Cpuid, ControlRegister refines CrAccess and Vector refines ExceptionOrNmi; one attribute uses one refinement (Leaf with Subleaf counts as one).");

    public static readonly DiagnosticDescriptor SubleafWithoutLeaf = new(
        "DSP0003",
        "Subleaf without Leaf",
        "Subleaf refines a CPUID leaf; set Leaf as well",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnbindableParameter = new(
        "DSP0004",
        "Handler parameter cannot be bound",
        "Parameter '{0}' of type '{1}' cannot be bound; a handler can take ref/in ExitContext, IoQualification, CrAccessQualification, MovDrQualification, EptViolationQualification, InterruptionInfo, ExitReasonField, VCpu, ref/in GuestRegisters and Vmcs",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnsupportedReturnType = new(
        "DSP0005",
        "Handler return type not supported",
        "Handler '{0}' returns '{1}'; a handler returns ExitAction or void (void means ExitAction.Complete)",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor QualificationMismatch = new(
        "DSP0006",
        "Parameter does not fit the exit reason",
        "Parameter '{0}' of type '{1}' is only valid for {2}, but handler '{3}' also handles {4}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "An exit qualification type describes the qualification of one exit reason; binding it for another reason would decode unrelated bits.");

    public static readonly DiagnosticDescriptor TypeNotPartial = new(
        "DSP0007",
        "Dispatcher type must be partial",
        "Type '{0}' must be declared partial so the generated Dispatch method can be added to '{1}'",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor GenericType = new(
        "DSP0008",
        "Dispatcher type must not be generic",
        "Type '{0}' is generic; exit handlers must be declared in a non-generic type whose containing types are not generic either",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor HandlerNotCallable = new(
        "DSP0009",
        "Handler cannot be called from the generated dispatcher",
        "Handler '{0}' cannot be called from the generated dispatcher: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "The generated Dispatch method is a member of the handler's own type, so every accessibility works; it cannot call local functions, generic methods, explicit interface implementations, or handlers of an interface or static class.");

    public static readonly DiagnosticDescriptor UndefinedExitReason = new(
        "DSP0010",
        "Undefined exit reason",
        "{0} is not a defined ExitReason value",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor MultipleDefaultHandlers = new(
        "DSP0011",
        "More than one default exit handler",
        "Type '{0}' already has the default exit handler '{1}'",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor GeneratorFailure = new(
        "DSP0012",
        "Exit handler generator failed",
        "The exit handler generator failed for '{0}' ({1}); a fallback Dispatch that returns ExitAction.Unhandled was generated",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NoReasonHandled = new(
        "DSP0013",
        "Dispatcher handles no exit reason",
        "Type '{0}' has a default exit handler but no [ExitHandler] method; every exit goes to '{1}'",
        Category, DiagnosticSeverity.Info, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor RefinementOutOfRange = new(
        "DSP0014",
        "Refinement value out of range",
        "{0} = {1} is out of range; {0} is between 0 and {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor EntryFailureReason = new(
        "DSP0015",
        "Entry-failure reason never reaches a specific handler",
        "{0} is reported with the VM-entry failure bit set, and entry failures go to the default exit handler; handle it there",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor DispatchAlreadyDeclared = new(
        "DSP0016",
        "Dispatch is already declared",
        "Type '{0}' declares Dispatch(ExitContext) itself; remove it or move the [ExitHandler] methods to another type",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "The generator implements IExitHandler.Dispatch for a type with exit handlers; a hand-written one would clash with it.");

    public static readonly DiagnosticDescriptor VmcsAccessorTypeMismatch = new(
        "DSP0017",
        "VMCS field view has the wrong type",
        "Property '{0}' is declared as '{1}', but VmcsField.{2} (0x{3}) is a {4} field; declare it as '{5}'",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A typed view of a VMCS field has the field's width: ushort for 16-bit fields, uint for 32-bit fields and high-access encodings, ulong for 64-bit and natural-width fields.");

    public static readonly DiagnosticDescriptor VmcsAccessorSetterOnReadOnlyField = new(
        "DSP0018",
        "VMCS field view writes a read-only field",
        "Property '{0}' has a setter, but VmcsField.{1} is a VM-exit information field, which VMWRITE cannot write; remove the setter",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "VM-exit information fields (encoding bits 11:10 = 1) are recorded by the processor on a VM exit and are read-only to the VMM.");

    public static readonly DiagnosticDescriptor VmcsAccessorUndefinedField = new(
        "DSP0019",
        "Undefined VMCS field",
        "0x{0} is not a defined VmcsField encoding",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor VmcsAccessorNotImplementable = new(
        "DSP0020",
        "VMCS field view cannot be implemented",
        "Property '{0}' cannot be implemented as a view of a VMCS field: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A [VmcsFieldAccessor] property is a partial, non-static property declaration with get (and optionally set) accessors and no bodies, in a non-generic partial type (and partial containing types) holding exactly one instance field or property of type Vmcs.");

    public static readonly DiagnosticDescriptor InvalidVmcsFieldTable = new(
        "DSP0021",
        "Invalid VMCS field table",
        "'{0}' cannot be VMCS storage: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "The [VmcsStorage] class is a non-generic partial class and its field table a uint enum of valid component encodings: no reserved bits, a high access only for a 64-bit field that is in the table, each encoding once.");
}
