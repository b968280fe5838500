namespace Dispatch.Vmx.Tests;

public class ExitRecordingTests
{
    [Fact]
    public void RecordExitWritesEveryExitInformationFieldAndClearsInjectionValidBit()
    {
        var vmcs = new Vmcs();
        vmcs.Write(VmcsField.VmEntryInterruptionInformation, InterruptionInfo.HardwareException(ExceptionVector.GeneralProtection).Raw);
        var exit = new VmExitInformation(ExitReason.EptViolation, 0x181)
        {
            GuestLinearAddress = 0x7FFF_0000,
            GuestPhysicalAddress = 0x1_2345_6000,
            InstructionLength = 3,
            InstructionInformation = 0x1234,
            ExitInterruption = InterruptionInfo.HardwareException(ExceptionVector.PageFault),
            ExitInterruptionErrorCode = 2,
            IdtVectoring = InterruptionInfo.Create(0x20, InterruptionType.ExternalInterrupt),
            IdtVectoringErrorCode = 7,
        };
        vmcs.RecordExit(exit);
        Assert.Equal(48UL, vmcs.Read(VmcsField.VmExitReason));
        Assert.Equal(0x181UL, vmcs.Read(VmcsField.ExitQualification));
        Assert.Equal(0x7FFF_0000UL, vmcs.Read(VmcsField.GuestLinearAddress));
        Assert.Equal(0x1_2345_6000UL, vmcs.Read(VmcsField.GuestPhysicalAddress));
        Assert.Equal(3UL, vmcs.Read(VmcsField.VmExitInstructionLength));
        Assert.Equal(0x1234UL, vmcs.Read(VmcsField.VmExitInstructionInformation));
        Assert.Equal(exit.ExitInterruption.Raw, vmcs.Read32(VmcsField.VmExitInterruptionInformation));
        Assert.Equal(2UL, vmcs.Read(VmcsField.VmExitInterruptionErrorCode));
        Assert.Equal(exit.IdtVectoring.Raw, vmcs.Read32(VmcsField.IdtVectoringInformation));
        Assert.Equal(7UL, vmcs.Read(VmcsField.IdtVectoringErrorCode));
        Assert.False(new InterruptionInfo(vmcs.Read32(VmcsField.VmEntryInterruptionInformation)).IsValid);
        Assert.Equal((byte)ExceptionVector.GeneralProtection, new InterruptionInfo(vmcs.Read32(VmcsField.VmEntryInterruptionInformation)).Vector);
    }

    [Fact]
    public void InstructionInformationDecodesVmreadRegisterAndMemoryForms()
    {
        var reg = new VmxInstructionInformation(0x1000_0000u | (3u << 3) | (2u << 7) | (1u << 10));
        Assert.True(reg.IsRegisterOperand);
        Assert.Equal(3, reg.Register1);
        Assert.Equal(1, reg.Register2);
        Assert.Equal(InstructionAddressSize.Bits64, reg.AddressSize);
        Assert.Equal(reg, VmxInstructionInformation.ForRegisters(3, 1));

        var mem = VmxInstructionInformation.ForMemory(segment: 3, baseRegister: 5, indexRegister: -1, scale: 4, register2: 15);
        Assert.False(mem.IsRegisterOperand);
        Assert.Equal(4, mem.Scale);
        Assert.Equal(3, mem.Segment);
        Assert.Equal(5, mem.BaseRegister);
        Assert.True(mem.BaseValid);
        Assert.False(mem.IndexValid);
        Assert.Equal(15, mem.Register2);
    }

    [Fact]
    public void CapabilityMsrsDescribeTheModel()
    {
        var caps = VmxCapabilities.Default;
        Assert.True(caps.TryReadMsr(VmxMsr.Basic, out ulong basic));
        Assert.Equal(1UL, basic & 0x7FFF_FFFF);
        Assert.Equal(4096UL, (basic >> 32) & 0x1FFF);
        Assert.Equal(6UL, (basic >> 50) & 0xF);
        Assert.NotEqual(0UL, basic & (1UL << 55));
        Assert.False(caps.TryReadMsr(0x492, out _));
        Assert.False(caps.VmwriteAnyField);
        Assert.True(VmxCapabilities.WithVmwriteAnyField.VmwriteAnyField);
        Assert.True(caps.SupportsActivityState(1) && caps.SupportsActivityState(2) && !caps.SupportsActivityState(3));
        Assert.False(caps.ProcessorBased2.MayBeOne((uint)SecondaryProcessorControls.UnrestrictedGuest));
        Assert.True(caps.ProcessorBased2.MayBeOne((uint)(SecondaryProcessorControls.EnableEpt | SecondaryProcessorControls.EnableVpid)));
        Assert.False(caps.TrueProcessorBased.MayBeOne((uint)PrimaryProcessorControls.ActivateTertiaryControls));
        Assert.True(caps.PinBased.Permits(0x16) && !caps.PinBased.Permits(0x14) && !caps.PinBased.Permits(0x96));
        caps.TryReadMsr(VmxMsr.VmcsEnum, out ulong vmcsEnum);
        Assert.Equal((ulong)Enum.GetValues<VmcsField>().Max(f => VmcsEncoding.Index((uint)f)), vmcsEnum >> 1);
    }
}
