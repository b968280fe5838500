namespace Dispatch.Vmx;

/// <summary>
/// The VMX state of one logical processor and the VMX instructions that change it, as Intel SDM Vol. 3C, chapter 31
/// "VMX Instruction Reference" describes them: VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE, VMLAUNCH and
/// VMRESUME. Privilege and mode faults (#GP for CPL &gt; 0, #UD outside 64-bit mode, CR4.VMXE, IA32_FEATURE_CONTROL) are
/// the engine's business; the model reports #UD only for instructions executed outside VMX operation.
/// <para>
/// VMCS data lives here, keyed by the region's physical address (an implementation-specific format the SDM allows,
/// 25.2). The dictionary is used by VMCLEAR and VMPTRLD only; VMREAD and VMWRITE go to the current VMCS directly.
/// </para>
/// </summary>
public sealed class VmxProcessor
{
    /// <summary>The value of the current-VMCS pointer when there is no current VMCS (SDM 25.1).</summary>
    public const ulong InvalidVmcsPointer = ulong.MaxValue;

    private readonly IVmcsRegionMemory _memory;
    private readonly Dictionary<ulong, Vmcs> _vmcsByAddress = new();

    public VmxProcessor(VmxCapabilities capabilities, IVmcsRegionMemory memory)
    {
        Capabilities = capabilities;
        _memory = memory;
    }

    public VmxCapabilities Capabilities { get; }

    /// <summary>Whether VMXON has succeeded and VMXOFF has not yet run (VMX root operation).</summary>
    public bool InVmxOperation { get; private set; }

    public ulong VmxonPointer { get; private set; } = InvalidVmcsPointer;

    public ulong CurrentVmcsPointer { get; private set; } = InvalidVmcsPointer;

    /// <summary>The current VMCS, or null when the current-VMCS pointer is invalid.</summary>
    public Vmcs? CurrentVmcs { get; private set; }

    /// <summary>The VMCS whose region starts at an address, if VMCLEAR or VMPTRLD has ever used it.</summary>
    public Vmcs? VmcsAt(ulong address) => _vmcsByAddress.GetValueOrDefault(address);

    /// <summary>VMXON (SDM 31.3): enter VMX operation with a VMXON region.</summary>
    public VmxInstructionResult Vmxon(ulong address)
    {
        // Already in VMX root operation: VMfail(15), which is VMfailInvalid when there is no current VMCS.
        if (InVmxOperation) return Fail(VmInstructionError.VmxonInVmxRootOperation);
        if (!IsRegionAddress(address)) return VmxInstructionResult.FailInvalid;
        uint header = _memory.ReadRevisionId(address);
        // Bits 30:0 must equal IA32_VMX_BASIC[30:0] and bit 31 must be 0 for a VMXON region.
        if (header != Capabilities.RevisionId) return VmxInstructionResult.FailInvalid;
        InVmxOperation = true;
        VmxonPointer = address;
        CurrentVmcsPointer = InvalidVmcsPointer;
        CurrentVmcs = null;
        return VmxInstructionResult.Succeed;
    }

    /// <summary>
    /// VMXOFF (SDM 31.3): leave VMX operation. VMCSs launched at this point are remembered as such, so that VMRESUME
    /// after the next VMXON fails with error 6 (31.4). Dual-monitor treatment (error 23) is not modelled.
    /// </summary>
    public VmxInstructionResult Vmxoff()
    {
        if (!InVmxOperation) return VmxInstructionResult.InvalidOpcode;
        // A VMCS still launched here cannot be resumed after the next VMXON (error 6) until VMCLEAR makes it clear.
        foreach (Vmcs vmcs in _vmcsByAddress.Values)
            if (vmcs.LaunchState == VmcsLaunchState.Launched) vmcs.LaunchedBeforeVmxoff = true;
        InVmxOperation = false;
        VmxonPointer = InvalidVmcsPointer;
        CurrentVmcsPointer = InvalidVmcsPointer;
        CurrentVmcs = null;
        return VmxInstructionResult.Succeed;
    }

    /// <summary>VMCLEAR (SDM 31.3): make a VMCS clear and, if it is current, make the current-VMCS pointer invalid.</summary>
    public VmxInstructionResult Vmclear(ulong address)
    {
        if (!InVmxOperation) return VmxInstructionResult.InvalidOpcode;
        if (!IsRegionAddress(address)) return Fail(VmInstructionError.VmclearInvalidAddress);
        if (address == VmxonPointer) return Fail(VmInstructionError.VmclearWithVmxonPointer);
        Vmcs cleared = VmcsFor(address);
        cleared.LaunchState = VmcsLaunchState.Clear;
        cleared.LaunchedBeforeVmxoff = false;
        if (address == CurrentVmcsPointer)
        {
            CurrentVmcsPointer = InvalidVmcsPointer;
            CurrentVmcs = null;
        }
        return VmxInstructionResult.Succeed;
    }

    /// <summary>VMPTRLD (SDM 31.3): make the VMCS at an address current.</summary>
    public VmxInstructionResult Vmptrld(ulong address)
    {
        if (!InVmxOperation) return VmxInstructionResult.InvalidOpcode;
        if (!IsRegionAddress(address)) return Fail(VmInstructionError.VmptrldInvalidAddress);
        if (address == VmxonPointer) return Fail(VmInstructionError.VmptrldWithVmxonPointer);
        uint header = _memory.ReadRevisionId(address);
        // Bit 31 (shadow-VMCS indicator) is only acceptable when VMCS shadowing is supported; it is not here.
        bool shadowAllowed = Capabilities.ProcessorBased2.MayBeOne((uint)SecondaryProcessorControls.VmcsShadowing);
        if ((header & 0x7FFF_FFFF) != Capabilities.RevisionId || ((header & 0x8000_0000) != 0 && !shadowAllowed))
            return Fail(VmInstructionError.VmptrldIncorrectRevisionId);
        CurrentVmcsPointer = address;
        CurrentVmcs = VmcsFor(address);
        return VmxInstructionResult.Succeed;
    }

    /// <summary>VMPTRST (SDM 31.3): the current-VMCS pointer (all ones when invalid). Always VMsucceed in VMX operation.</summary>
    public VmxInstructionResult Vmptrst(out ulong pointer)
    {
        pointer = CurrentVmcsPointer;
        return InVmxOperation ? VmxInstructionResult.Succeed : VmxInstructionResult.InvalidOpcode;
    }

    /// <summary>
    /// VMREAD (SDM 31.3) of the component an encoding names. A high-access encoding reads the upper half of a 64-bit
    /// field; narrower fields are zero-extended. Allocates nothing.
    /// </summary>
    public VmxInstructionResult Vmread(ulong encoding, out ulong value)
    {
        value = 0;
        if (!InVmxOperation) return VmxInstructionResult.InvalidOpcode;
        Vmcs? vmcs = CurrentVmcs;
        if (vmcs is null) return VmxInstructionResult.FailInvalid;
        if (!vmcs.TryRead(encoding, out value)) return FailValid(vmcs, VmInstructionError.UnsupportedVmcsComponent);
        return VmxInstructionResult.Succeed;
    }

    /// <summary>
    /// VMWRITE (SDM 31.3): writes a component, truncated to its width (a high access writes bits 63:32 only). Exit-
    /// information fields are read-only unless IA32_VMX_MISC[29] is reported (error 13). Allocates nothing.
    /// </summary>
    public VmxInstructionResult Vmwrite(ulong encoding, ulong value)
    {
        if (!InVmxOperation) return VmxInstructionResult.InvalidOpcode;
        Vmcs? vmcs = CurrentVmcs;
        if (vmcs is null) return VmxInstructionResult.FailInvalid;
        if (!Vmcs.IsSupported(encoding)) return FailValid(vmcs, VmInstructionError.UnsupportedVmcsComponent);
        if (VmcsEncoding.Type((uint)encoding) == VmcsFieldType.ExitInformation && !Capabilities.VmwriteAnyField)
            return FailValid(vmcs, VmInstructionError.VmwriteReadOnlyComponent);
        vmcs.Write((VmcsField)(uint)encoding, value);
        return VmxInstructionResult.Succeed;
    }

    /// <summary>VMLAUNCH (SDM 31.3): enter the guest of a clear VMCS and mark it launched.</summary>
    /// <param name="blockedByMovSs">Whether events are blocked by MOV SS in the host at this instruction (error 26).</param>
    public VmxInstructionResult Vmlaunch(bool blockedByMovSs = false) => Enter(launch: true, blockedByMovSs);

    /// <summary>VMRESUME (SDM 31.3): re-enter the guest of a launched VMCS.</summary>
    public VmxInstructionResult Vmresume(bool blockedByMovSs = false) => Enter(launch: false, blockedByMovSs);

    /// <summary>The result of the VM-entry checks of the last VMLAUNCH/VMRESUME that got as far as running them.</summary>
    public VmEntryCheckResult LastEntryCheck { get; private set; }

    private VmxInstructionResult Enter(bool launch, bool blockedByMovSs)
    {
        if (!InVmxOperation) return VmxInstructionResult.InvalidOpcode;
        Vmcs? vmcs = CurrentVmcs;
        if (vmcs is null) return VmxInstructionResult.FailInvalid;
        if (blockedByMovSs) return FailValid(vmcs, VmInstructionError.EntryEventsBlockedByMovSs);
        if (launch && vmcs.LaunchState != VmcsLaunchState.Clear) return FailValid(vmcs, VmInstructionError.VmlaunchNonClearVmcs);
        if (!launch && vmcs.LaunchState != VmcsLaunchState.Launched) return FailValid(vmcs, VmInstructionError.VmresumeNonLaunchedVmcs);
        if (!launch && vmcs.LaunchedBeforeVmxoff) return FailValid(vmcs, VmInstructionError.VmresumeAfterVmxoff);

        VmEntryCheckResult check = VmEntryChecks.Run(vmcs, Capabilities);
        LastEntryCheck = check;
        switch (check.Outcome)
        {
            case VmEntryCheckOutcome.FailValid:
                return FailValid(vmcs, check.Error);
            case VmEntryCheckOutcome.EntryFailure:
                // SDM 27.8: the failure is reported as a VM exit; the launch state stays as it was.
                vmcs.RecordExit(new VmExitInformation(check.ExitReason, (ulong)check.Qualification));
                return new VmxInstructionResult(VmxInstructionOutcome.EntryFailureVmExit);
        }
        if (launch)
        {
            vmcs.LaunchState = VmcsLaunchState.Launched;
            vmcs.LaunchedBeforeVmxoff = false;
        }
        // SDM 27.6 and 28.2.1: a successful entry consumes the injected event; its valid bit is cleared on the next exit.
        return new VmxInstructionResult(VmxInstructionOutcome.VmEntered);
    }

    /// <summary>4 KiB aligned and within the physical-address width (SDM 31.3, VMXON/VMCLEAR/VMPTRLD operand checks).</summary>
    private bool IsRegionAddress(ulong address) =>
        (address & 0xFFF) == 0 && (_memory.PhysicalAddressWidth >= 64 || address >> _memory.PhysicalAddressWidth == 0);

    private Vmcs VmcsFor(ulong address)
    {
        if (!_vmcsByAddress.TryGetValue(address, out Vmcs? vmcs))
        {
            vmcs = new Vmcs();
            _vmcsByAddress.Add(address, vmcs);
        }
        return vmcs;
    }

    /// <summary>VMfail(error) of SDM 31.2: VMfailValid when there is a current VMCS to hold the number, else VMfailInvalid.</summary>
    private VmxInstructionResult Fail(VmInstructionError error) =>
        CurrentVmcs is { } vmcs ? FailValid(vmcs, error) : VmxInstructionResult.FailInvalid;

    private static VmxInstructionResult FailValid(Vmcs vmcs, VmInstructionError error)
    {
        vmcs.Write(VmcsField.VmInstructionError, (uint)error);
        return VmxInstructionResult.FailValid(error);
    }
}
