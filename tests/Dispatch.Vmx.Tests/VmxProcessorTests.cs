namespace Dispatch.Vmx.Tests;

internal sealed class FakeRegionMemory : IVmcsRegionMemory
{
    public Dictionary<ulong, uint> Headers { get; } = new();
    public int PhysicalAddressWidth => 39;
    public uint ReadRevisionId(ulong address) => Headers.GetValueOrDefault(address, VmxCapabilities.DefaultRevisionId);
}

/// <summary>Every VMX instruction outcome of SDM Vol. 3C, 31.3, with the RFLAGS convention of 31.2.</summary>
public class VmxProcessorTests
{
    private const ulong Vmxon = 0x1000, VmcsA = 0x2000, VmcsB = 0x3000;
    private readonly FakeRegionMemory _memory = new();

    private VmxProcessor On(VmxCapabilities? caps = null)
    {
        var cpu = new VmxProcessor(caps ?? VmxCapabilities.Default, _memory);
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmxon(Vmxon));
        return cpu;
    }

    private VmxProcessor Loaded(VmxCapabilities? caps = null)
    {
        var cpu = On(caps);
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmptrld(VmcsA));
        return cpu;
    }

    private static void AssertFailValid(VmxProcessor cpu, VmxInstructionResult result, VmInstructionError error)
    {
        Assert.Equal(VmxInstructionResult.FailValid(error), result);
        Assert.Equal((ulong)error, cpu.CurrentVmcs!.Read(VmcsField.VmInstructionError));
    }

    [Fact]
    public void RflagsConventions()
    {
        const ulong all = VmxInstructionResult.ArithmeticFlags | 0x202;
        Assert.Equal(0x202UL, VmxInstructionResult.Succeed.ApplyTo(all));
        Assert.Equal(0x203UL, VmxInstructionResult.FailInvalid.ApplyTo(all));
        Assert.Equal(0x242UL, VmxInstructionResult.FailValid(VmInstructionError.VmlaunchNonClearVmcs).ApplyTo(all));
        Assert.Equal(all, VmxInstructionResult.InvalidOpcode.ApplyTo(all));
    }

    [Fact]
    public void InstructionsOutsideVmxOperationRaiseUd()
    {
        var cpu = new VmxProcessor(VmxCapabilities.Default, _memory);
        Assert.Equal(VmxInstructionResult.InvalidOpcode, cpu.Vmxoff());
        Assert.Equal(VmxInstructionResult.InvalidOpcode, cpu.Vmclear(VmcsA));
        Assert.Equal(VmxInstructionResult.InvalidOpcode, cpu.Vmptrld(VmcsA));
        Assert.Equal(VmxInstructionResult.InvalidOpcode, cpu.Vmptrst(out _));
        Assert.Equal(VmxInstructionResult.InvalidOpcode, cpu.Vmread(0, out _));
        Assert.Equal(VmxInstructionResult.InvalidOpcode, cpu.Vmwrite(0, 0));
        Assert.Equal(VmxInstructionResult.InvalidOpcode, cpu.Vmlaunch());
    }

    [Fact]
    public void VmxonChecksAlignmentWidthAndRevision()
    {
        var cpu = new VmxProcessor(VmxCapabilities.Default, _memory);
        Assert.Equal(VmxInstructionResult.FailInvalid, cpu.Vmxon(Vmxon + 8));
        Assert.Equal(VmxInstructionResult.FailInvalid, cpu.Vmxon(1UL << 39));
        _memory.Headers[Vmxon] = 2;
        Assert.Equal(VmxInstructionResult.FailInvalid, cpu.Vmxon(Vmxon));
        _memory.Headers[Vmxon] = 0x8000_0001;
        Assert.Equal(VmxInstructionResult.FailInvalid, cpu.Vmxon(Vmxon));
        Assert.False(cpu.InVmxOperation);
        _memory.Headers[Vmxon] = 1;
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmxon(Vmxon));
        Assert.True(cpu.InVmxOperation);
    }

    [Fact]
    public void VmxonInVmxOperationFailsWithError15()
    {
        var cpu = On();
        Assert.Equal(VmxInstructionResult.FailInvalid, cpu.Vmxon(Vmxon));   // no current VMCS: VMfailInvalid
        cpu.Vmptrld(VmcsA);
        AssertFailValid(cpu, cpu.Vmxon(Vmxon), VmInstructionError.VmxonInVmxRootOperation);
    }

    [Fact]
    public void VmxoffLeavesVmxOperation()
    {
        var cpu = Loaded();
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmxoff());
        Assert.False(cpu.InVmxOperation);
        Assert.Null(cpu.CurrentVmcs);
    }

    [Fact]
    public void VmclearErrors()
    {
        var cpu = On();
        Assert.Equal(VmxInstructionResult.FailInvalid, cpu.Vmclear(VmcsA + 4));
        cpu.Vmptrld(VmcsA);
        AssertFailValid(cpu, cpu.Vmclear(VmcsB + 4), VmInstructionError.VmclearInvalidAddress);
        AssertFailValid(cpu, cpu.Vmclear(1UL << 40), VmInstructionError.VmclearInvalidAddress);
        AssertFailValid(cpu, cpu.Vmclear(Vmxon), VmInstructionError.VmclearWithVmxonPointer);
    }

    [Fact]
    public void VmclearOfTheCurrentVmcsInvalidatesThePointerAndClearsLaunchState()
    {
        var cpu = ReadyToLaunch();
        Vmcs vmcs = cpu.CurrentVmcs!;
        cpu.Vmlaunch();
        Assert.Equal(VmcsLaunchState.Launched, vmcs.LaunchState);
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmclear(VmcsA));
        Assert.Equal(VmcsLaunchState.Clear, vmcs.LaunchState);
        cpu.Vmptrst(out ulong pointer);
        Assert.Equal(VmxProcessor.InvalidVmcsPointer, pointer);
    }

    [Fact]
    public void VmptrldErrors()
    {
        var cpu = On();
        Assert.Equal(VmxInstructionResult.FailInvalid, cpu.Vmptrld(VmcsA + 0x10));
        cpu.Vmptrld(VmcsA);
        AssertFailValid(cpu, cpu.Vmptrld(VmcsB + 0x10), VmInstructionError.VmptrldInvalidAddress);
        AssertFailValid(cpu, cpu.Vmptrld(Vmxon), VmInstructionError.VmptrldWithVmxonPointer);
        _memory.Headers[VmcsB] = 7;
        AssertFailValid(cpu, cpu.Vmptrld(VmcsB), VmInstructionError.VmptrldIncorrectRevisionId);
        _memory.Headers[VmcsB] = 0x8000_0001;   // shadow-VMCS indicator without VMCS shadowing
        AssertFailValid(cpu, cpu.Vmptrld(VmcsB), VmInstructionError.VmptrldIncorrectRevisionId);
        Assert.Equal(VmcsA, cpu.CurrentVmcsPointer);
    }

    [Fact]
    public void VmptrstStoresTheCurrentPointerAndVmcsDataSurvivesSwitching()
    {
        var cpu = Loaded();
        cpu.Vmwrite((ulong)VmcsField.GuestRip, 0x1234);
        cpu.Vmptrld(VmcsB);
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmptrst(out ulong pointer));
        Assert.Equal(VmcsB, pointer);
        cpu.Vmread((ulong)VmcsField.GuestRip, out ulong rip);
        Assert.Equal(0UL, rip);
        cpu.Vmptrld(VmcsA);
        cpu.Vmread((ulong)VmcsField.GuestRip, out rip);
        Assert.Equal(0x1234UL, rip);
    }

    [Fact]
    public void VmreadAndVmwriteWithoutCurrentVmcsFailInvalid()
    {
        var cpu = On();
        Assert.Equal(VmxInstructionResult.FailInvalid, cpu.Vmread((ulong)VmcsField.GuestRip, out _));
        Assert.Equal(VmxInstructionResult.FailInvalid, cpu.Vmwrite((ulong)VmcsField.GuestRip, 1));
    }

    [Fact]
    public void UnsupportedComponentFailsWithError12()
    {
        var cpu = Loaded();
        AssertFailValid(cpu, cpu.Vmread(0x0ABC, out _), VmInstructionError.UnsupportedVmcsComponent);
        AssertFailValid(cpu, cpu.Vmwrite(0x0001, 0), VmInstructionError.UnsupportedVmcsComponent);
        AssertFailValid(cpu, cpu.Vmread(1UL << 32 | (ulong)VmcsField.GuestRip, out _), VmInstructionError.UnsupportedVmcsComponent);
    }

    [Fact]
    public void VmwriteToReadOnlyFieldFailsWithError13UnlessMiscBit29()
    {
        var cpu = Loaded();
        AssertFailValid(cpu, cpu.Vmwrite((ulong)VmcsField.ExitQualification, 5), VmInstructionError.VmwriteReadOnlyComponent);
        var any = Loaded(VmxCapabilities.WithVmwriteAnyField);
        Assert.Equal(VmxInstructionResult.Succeed, any.Vmwrite((ulong)VmcsField.ExitQualification, 5));
        any.Vmread((ulong)VmcsField.ExitQualification, out ulong q);
        Assert.Equal(5UL, q);
    }

    [Fact]
    public void VmwriteTruncatesAndHighAccessWritesTheUpperHalf()
    {
        var cpu = Loaded();
        cpu.Vmwrite((ulong)VmcsField.GuestCsSelector, 0xABCD_1234);
        cpu.Vmread((ulong)VmcsField.GuestCsSelector, out ulong selector);
        Assert.Equal(0x1234UL, selector);
        cpu.Vmwrite((ulong)VmcsField.EptPointer, 0x1111_2222_3333_4444);
        cpu.Vmwrite((ulong)VmcsField.EptPointerHigh, 0x9999_8888_7777_6666);
        cpu.Vmread((ulong)VmcsField.EptPointer, out ulong eptp);
        cpu.Vmread((ulong)VmcsField.EptPointerHigh, out ulong high);
        Assert.Equal(0x7777_6666_3333_4444UL, eptp);
        Assert.Equal(0x7777_6666UL, high);
    }

    private VmxProcessor ReadyToLaunch()
    {
        var cpu = Loaded();
        Vmcs valid = ValidVmcs.Create();
        foreach (VmcsField f in Enum.GetValues<VmcsField>().Where(f => !f.IsHighAccess()))
            cpu.CurrentVmcs!.Write(f, valid.Read(f));
        return cpu;
    }

    [Fact]
    public void VmlaunchEntersAndMarksLaunchedThenVmresumeEnters()
    {
        var cpu = ReadyToLaunch();
        Assert.Equal(VmxInstructionOutcome.VmEntered, cpu.Vmlaunch().Outcome);
        Assert.Equal(VmcsLaunchState.Launched, cpu.CurrentVmcs!.LaunchState);
        Assert.Equal(VmxInstructionOutcome.VmEntered, cpu.Vmresume().Outcome);
    }

    [Fact]
    public void LaunchStateErrors4And5()
    {
        var cpu = ReadyToLaunch();
        AssertFailValid(cpu, cpu.Vmresume(), VmInstructionError.VmresumeNonLaunchedVmcs);
        cpu.Vmlaunch();
        AssertFailValid(cpu, cpu.Vmlaunch(), VmInstructionError.VmlaunchNonClearVmcs);
    }

    [Fact]
    public void EntryWithoutCurrentVmcsFailsInvalidAndMovSsBlockingFailsWith26()
    {
        Assert.Equal(VmxInstructionResult.FailInvalid, On().Vmlaunch());
        var cpu = ReadyToLaunch();
        AssertFailValid(cpu, cpu.Vmlaunch(blockedByMovSs: true), VmInstructionError.EntryEventsBlockedByMovSs);
    }

    [Fact]
    public void ControlAndHostFailuresAreVmfailValid7And8()
    {
        var cpu = ReadyToLaunch();
        cpu.CurrentVmcs!.Write(VmcsField.VirtualProcessorIdentifier, 0);
        AssertFailValid(cpu, cpu.Vmlaunch(), VmInstructionError.EntryInvalidControlFields);
        cpu.CurrentVmcs.Write(VmcsField.VirtualProcessorIdentifier, 1);
        cpu.CurrentVmcs.Write(VmcsField.HostCsSelector, 0);
        AssertFailValid(cpu, cpu.Vmlaunch(), VmInstructionError.EntryInvalidHostStateFields);
        Assert.Equal("HostCsSelectorNonZero", cpu.LastEntryCheck.FailedCheckName);
        Assert.Equal(VmcsLaunchState.Clear, cpu.CurrentVmcs.LaunchState);
    }

    [Fact]
    public void GuestStateFailureIsAnEntryFailureExitWithQualification()
    {
        var cpu = ReadyToLaunch();
        Vmcs vmcs = cpu.CurrentVmcs!;
        vmcs.Write(VmcsField.VmcsLinkPointer, 0);
        VmxInstructionResult result = cpu.Vmlaunch();
        Assert.Equal(VmxInstructionOutcome.EntryFailureVmExit, result.Outcome);
        Assert.Equal(0x8000_0021UL, vmcs.Read(VmcsField.VmExitReason));
        Assert.Equal(4UL, vmcs.Read(VmcsField.ExitQualification));
        Assert.Equal(VmcsLaunchState.Clear, vmcs.LaunchState);
        Assert.True(new ExitReasonField((uint)vmcs.Read(VmcsField.VmExitReason)).IsEntryFailure);
    }

    [Fact]
    public void VmresumeOfAVmcsLaunchedBeforeVmxoffAndVmxonFailsWithError6()
    {
        var cpu = ReadyToLaunch();
        Assert.Equal(VmxInstructionOutcome.VmEntered, cpu.Vmlaunch().Outcome);
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmxoff());
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmxon(Vmxon));
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmptrld(VmcsA));
        AssertFailValid(cpu, cpu.Vmresume(), VmInstructionError.VmresumeAfterVmxoff);
        // The other outcomes are unchanged: the VMCS is still launched for VMLAUNCH, and VMCLEAR starts it afresh.
        AssertFailValid(cpu, cpu.Vmlaunch(), VmInstructionError.VmlaunchNonClearVmcs);
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmclear(VmcsA));
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmptrld(VmcsA));
        Assert.Equal(VmxInstructionOutcome.VmEntered, cpu.Vmlaunch().Outcome);
        Assert.Equal(VmxInstructionOutcome.VmEntered, cpu.Vmresume().Outcome);
    }

    [Fact]
    public void VmresumeWithoutVmxoffInBetweenOrAfterVmclearIsNotError6()
    {
        var cpu = ReadyToLaunch();
        Assert.Equal(VmxInstructionOutcome.VmEntered, cpu.Vmlaunch().Outcome);
        // Another VMCS made current and back: the launch state survives, VMRESUME enters.
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmptrld(VmcsB));
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmptrld(VmcsA));
        Assert.Equal(VmxInstructionOutcome.VmEntered, cpu.Vmresume().Outcome);
        // VMCLEAR before VMXOFF, as software should: after VMXON the VMCS is clear, so VMRESUME is error 5, not 6.
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmclear(VmcsA));
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmxoff());
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmxon(Vmxon));
        Assert.Equal(VmxInstructionResult.Succeed, cpu.Vmptrld(VmcsA));
        AssertFailValid(cpu, cpu.Vmresume(), VmInstructionError.VmresumeNonLaunchedVmcs);
    }
}
