namespace Dispatch.Vmx.Tests;

public class VmcsStorageTests
{
    [Fact]
    public void EveryFullFieldHasItsOwnStorage()
    {
        var vmcs = new Vmcs();
        var fields = Enum.GetValues<VmcsField>().Where(f => !f.IsHighAccess()).ToArray();
        for (int i = 0; i < fields.Length; i++) vmcs.Write(fields[i], (ulong)i + 1);
        for (int i = 0; i < fields.Length; i++) Assert.Equal((ulong)i + 1, vmcs.Read(fields[i]));
    }

    [Fact]
    public void WritesTruncateToTheFieldWidth()
    {
        var vmcs = new Vmcs();
        vmcs.Write(VmcsField.GuestCsSelector, 0x1_2345);
        vmcs.Write(VmcsField.GuestCsLimit, 0x1_2345_6789);
        vmcs.Write(VmcsField.GuestRip, 0x1_2345_6789);
        Assert.Equal(0x2345UL, vmcs.Read(VmcsField.GuestCsSelector));
        Assert.Equal(0x2345_6789UL, vmcs.Read(VmcsField.GuestCsLimit));
        Assert.Equal(0x1_2345_6789UL, vmcs.Read(VmcsField.GuestRip));
    }

    [Fact]
    public void HighAccessAliasesTheUpperHalf()
    {
        var vmcs = new Vmcs();
        vmcs.Write(VmcsField.TscOffset, 0x1111_2222_3333_4444);
        Assert.Equal(0x1111_2222UL, vmcs.Read(VmcsField.TscOffsetHigh));
        vmcs.Write(VmcsField.TscOffsetHigh, 0xAAAA_BBBB_CCCC_DDDD);
        Assert.Equal(0xCCCC_DDDD_3333_4444UL, vmcs.Read(VmcsField.TscOffset));
    }

    [Fact]
    public void UnsupportedEncodingsAreRejected()
    {
        Assert.False(Vmcs.IsSupported(0x0001));          // high access of a 16-bit field
        Assert.False(Vmcs.IsSupported(0x1000));          // reserved bit 12
        Assert.False(Vmcs.IsSupported(0x1_0000_2000));   // bits 63:32
        Assert.False(Vmcs.IsSupported(0x0ABC));
        Assert.True(Vmcs.IsSupported((ulong)VmcsField.EptPointerHigh));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Vmcs().Read((VmcsField)0x0ABC));
    }
}
