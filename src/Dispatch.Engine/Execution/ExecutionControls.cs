using Dispatch.Vmx;

namespace Dispatch.Execution;

/// <summary>
/// The VM-execution controls the interpreter consults, read from the VMCS once per VM entry (as Bochs' VMCS cache and real
/// processors do), so exit decisions on the hot path never go through VMREAD.
/// </summary>
internal sealed class ExecutionControls
{
    public PinBasedControls Pin;
    public PrimaryProcessorControls Primary;
    public SecondaryProcessorControls Secondary;
    public uint ExceptionBitmap;
    public uint PageFaultErrorCodeMask, PageFaultErrorCodeMatch;
    public ulong IoBitmapA, IoBitmapB, MsrBitmap;
    public ulong Cr0GuestHostMask, Cr0ReadShadow, Cr4GuestHostMask, Cr4ReadShadow;
    public int Cr3TargetCount;
    public readonly ulong[] Cr3Targets = new ulong[4];
    public ulong TscOffset;
    public ulong EptPointer;
    public uint TprThreshold;
    public ulong VirtualApicAddress;
    public uint PleGap, PleWindow;

    public bool Has(PrimaryProcessorControls c) => (Primary & c) != 0;

    public bool Has(SecondaryProcessorControls c) =>
        (Primary & PrimaryProcessorControls.ActivateSecondaryControls) != 0 && (Secondary & c) != 0;

    public bool Has(PinBasedControls c) => (Pin & c) != 0;

    public bool EptEnabled => Has(SecondaryProcessorControls.EnableEpt);

    public void Load(Vmcs vmcs)
    {
        Pin = (PinBasedControls)vmcs.Read32(VmcsField.PinBasedVmExecutionControls);
        Primary = (PrimaryProcessorControls)vmcs.Read32(VmcsField.PrimaryProcessorBasedVmExecutionControls);
        Secondary = (SecondaryProcessorControls)vmcs.Read32(VmcsField.SecondaryProcessorBasedVmExecutionControls);
        ExceptionBitmap = vmcs.Read32(VmcsField.ExceptionBitmap);
        PageFaultErrorCodeMask = vmcs.Read32(VmcsField.PageFaultErrorCodeMask);
        PageFaultErrorCodeMatch = vmcs.Read32(VmcsField.PageFaultErrorCodeMatch);
        IoBitmapA = vmcs.Read(VmcsField.IoBitmapAAddress);
        IoBitmapB = vmcs.Read(VmcsField.IoBitmapBAddress);
        MsrBitmap = vmcs.Read(VmcsField.MsrBitmapsAddress);
        Cr0GuestHostMask = vmcs.Read(VmcsField.Cr0GuestHostMask);
        Cr0ReadShadow = vmcs.Read(VmcsField.Cr0ReadShadow);
        Cr4GuestHostMask = vmcs.Read(VmcsField.Cr4GuestHostMask);
        Cr4ReadShadow = vmcs.Read(VmcsField.Cr4ReadShadow);
        Cr3TargetCount = (int)vmcs.Read32(VmcsField.Cr3TargetCount);
        Cr3Targets[0] = vmcs.Read(VmcsField.Cr3TargetValue0);
        Cr3Targets[1] = vmcs.Read(VmcsField.Cr3TargetValue1);
        Cr3Targets[2] = vmcs.Read(VmcsField.Cr3TargetValue2);
        Cr3Targets[3] = vmcs.Read(VmcsField.Cr3TargetValue3);
        TscOffset = vmcs.Read(VmcsField.TscOffset);
        EptPointer = vmcs.Read(VmcsField.EptPointer);
        TprThreshold = vmcs.Read32(VmcsField.TprThreshold);
        VirtualApicAddress = vmcs.Read(VmcsField.VirtualApicAddress);
        PleGap = vmcs.Read32(VmcsField.PleGap);
        PleWindow = vmcs.Read32(VmcsField.PleWindow);
    }
}
