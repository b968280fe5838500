namespace Dispatch.Vmx.Tests;

/// <summary>
/// A processor may keep the guest state after a VM exit (<see cref="Vmcs.DeferGuestStateSave"/>): the VMCS must read
/// exactly as though the state had been saved, ask for it on the first access to the guest-state area only, and not count
/// the save as a write.
/// </summary>
public class DeferredGuestStateTests
{
    /// <summary>Writes a fixed guest state (RIP, RSP, CS selector) and counts how often it was asked to.</summary>
    private sealed class CountingHolder : IGuestStateHolder
    {
        public int Saves;
        public ulong Rip = 0x40_1000, Rsp = 0x7FF0;

        public void SaveGuestState(Vmcs vmcs)
        {
            Saves++;
            vmcs.Write(VmcsField.GuestRip, Rip);
            vmcs.Write(VmcsField.GuestRsp, Rsp);
            vmcs.GuestCsSelector = 0x10;
        }
    }

    private static (Vmcs Vmcs, CountingHolder Holder) Deferred()
    {
        var vmcs = new Vmcs();
        var holder = new CountingHolder();
        vmcs.DeferGuestStateSave(holder);
        return (vmcs, holder);
    }

    [Fact]
    public void First_guest_state_read_saves_once_and_reads_the_saved_values()
    {
        var (vmcs, holder) = Deferred();
        Assert.True(vmcs.IsGuestStateDeferred);
        Assert.Equal(0x40_1000UL, vmcs.Read(VmcsField.GuestRip));
        Assert.Equal(0x7FF0UL, vmcs.GuestRsp);
        Assert.Equal((ushort)0x10, vmcs.GuestCsSelector);
        Assert.Equal(1, holder.Saves);
        Assert.False(vmcs.IsGuestStateDeferred);
    }

    [Fact]
    public void Control_exit_information_and_host_fields_do_not_ask_for_the_guest_state()
    {
        var (vmcs, holder) = Deferred();
        vmcs.RecordExit(new VmExitInformation(ExitReason.Cpuid) { InstructionLength = 2 });
        _ = vmcs.Read(VmcsField.VmExitReason);
        _ = vmcs.VmExitInstructionLength;
        _ = vmcs.Read(VmcsField.PinBasedVmExecutionControls);
        vmcs.Write(VmcsField.Cr4ReadShadow, 1UL << 13);
        vmcs.HostRip = 0xFFFF_8000_0000_1000;
        Assert.True(vmcs.TryRead((ulong)VmcsField.HostRsp, out _));
        Assert.Equal(0, holder.Saves);
        Assert.True(vmcs.IsGuestStateDeferred);
    }

    [Fact]
    public void The_deferred_save_is_not_a_write()
    {
        var (vmcs, holder) = Deferred();
        long version = vmcs.Version;
        _ = vmcs.GuestRip;
        Assert.Equal(1, holder.Saves);
        Assert.Equal(version, vmcs.Version);
    }

    [Fact]
    public void A_guest_state_write_lands_after_the_save_so_it_wins()
    {
        var (vmcs, holder) = Deferred();
        long version = vmcs.Version;
        vmcs.Write(VmcsField.GuestRip, 0x40_2000);
        Assert.Equal(1, holder.Saves);
        Assert.Equal(0x40_2000UL, vmcs.GuestRip);
        // The save filled the rest of the area.
        Assert.Equal(0x7FF0UL, vmcs.GuestRsp);
        Assert.Equal(version + 1, vmcs.Version);
    }

    [Fact]
    public void Typed_property_writes_and_raw_encoding_access_ask_first_too()
    {
        var (setter, setterHolder) = Deferred();
        setter.GuestRsp = 0x1234;
        Assert.Equal(1, setterHolder.Saves);
        Assert.Equal(0x1234UL, setter.Read(VmcsField.GuestRsp));

        var (raw, rawHolder) = Deferred();
        Assert.True(raw.TryWrite((ulong)VmcsField.GuestRip, 0x40_3000));
        Assert.Equal(1, rawHolder.Saves);
        Assert.True(raw.TryRead((ulong)VmcsField.GuestRsp, out ulong rsp));
        Assert.Equal(0x7FF0UL, rsp);
        Assert.Equal(0x40_3000UL, raw.GuestRip);
        Assert.Equal(1, rawHolder.Saves);
    }

    [Fact]
    public void Clearing_the_fields_saves_first_and_then_clears_everything()
    {
        var (vmcs, holder) = Deferred();
        vmcs.ClearFields();
        Assert.Equal(1, holder.Saves);
        Assert.Equal(0UL, vmcs.GuestRip);
        Assert.False(vmcs.IsGuestStateDeferred);
    }

    [Fact]
    public void Incremental_entry_checks_see_the_saved_state()
    {
        // The incremental entry checks compare the raw storage with what they last checked: it must hold the holder's
        // state, not what the slots held before the save.
        var vmcs = ValidVmcs.Create();
        var checks = new VmEntryCheckCache();
        Assert.Equal(VmEntryCheckOutcome.Passed, checks.Run(vmcs, VmxCapabilities.Default).Outcome);
        var holder = new CopyingHolder(ValidVmcs.Create());
        vmcs.Write(VmcsField.GuestRip, 0x1234_5678_9ABC_DEF0); // not canonical: fails the checks if it is what they read
        vmcs.DeferGuestStateSave(holder);
        Assert.Equal(VmEntryCheckOutcome.Passed, checks.Run(vmcs, VmxCapabilities.Default).Outcome);
        Assert.Equal(1, holder.Saves);

        // Without a holder the same write fails, so the check above could tell the difference.
        vmcs.Write(VmcsField.GuestRip, 0x1234_5678_9ABC_DEF0);
        Assert.NotEqual(VmEntryCheckOutcome.Passed, checks.Run(vmcs, VmxCapabilities.Default).Outcome);
    }

    /// <summary>Saves the guest state another VMCS holds.</summary>
    private sealed class CopyingHolder(Vmcs source) : IGuestStateHolder
    {
        public int Saves;

        public void SaveGuestState(Vmcs vmcs)
        {
            Saves++;
            foreach (var field in Enum.GetValues<VmcsField>())
                if (((uint)field & 0xC00) == 0x800 && ((uint)field & 1) == 0) vmcs.Write(field, source.Read(field));
        }
    }
}
