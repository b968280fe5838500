using System.Reflection;

namespace Dispatch.Vmx.Tests;

/// <summary>
/// The generated typed properties of <see cref="Vmcs"/> agree with the field table: one per full field, of the field's
/// width, sharing storage with <see cref="Vmcs.Read"/>/<see cref="Vmcs.Write"/>, read-only fields without a public setter.
/// </summary>
public class VmcsTypedFieldTests
{
    private static readonly VmcsField[] FullFields = Enum.GetValues<VmcsField>().Where(f => !f.IsHighAccess()).ToArray();

    private static Type ExpectedType(VmcsField field) => field.Width() switch
    {
        VmcsFieldWidth.Bits16 => typeof(ushort),
        VmcsFieldWidth.Bits32 => typeof(uint),
        _ => typeof(ulong),
    };

    [Fact]
    public void Every_full_field_has_a_property_of_its_width_and_no_high_access_has_one()
    {
        foreach (VmcsField field in FullFields)
        {
            PropertyInfo? property = typeof(Vmcs).GetProperty(field.ToString());
            Assert.True(property is not null, $"{field} has no property");
            Assert.Equal(ExpectedType(field), property.PropertyType);
            Assert.NotNull(property.GetMethod);
            Assert.True(property.GetMethod.IsPublic, field.ToString());
            Assert.NotNull(property.SetMethod);
            Assert.Equal(field.Type() != VmcsFieldType.ExitInformation, property.SetMethod.IsPublic);
        }
        foreach (VmcsField high in Enum.GetValues<VmcsField>().Where(f => f.IsHighAccess()))
            Assert.Null(typeof(Vmcs).GetProperty(high.ToString()));
    }

    [Fact]
    public void Properties_and_encoded_access_share_storage_and_truncate_alike()
    {
        var vmcs = new Vmcs();
        for (int i = 0; i < FullFields.Length; i++)
        {
            PropertyInfo property = typeof(Vmcs).GetProperty(FullFields[i].ToString())!;
            ulong value = 0xA5A5_0000_0000_0000UL | ((ulong)i << 36) | ((ulong)i << 20) | (ulong)i * 3 + 1;
            vmcs.Write(FullFields[i], value);
            ulong expected = value & VmcsEncoding.ValueMask((uint)FullFields[i]);
            Assert.Equal(expected, Convert.ToUInt64(property.GetValue(vmcs)));
        }
        for (int i = 0; i < FullFields.Length; i++)
        {
            PropertyInfo property = typeof(Vmcs).GetProperty(FullFields[i].ToString())!;
            object typed = Convert.ChangeType((ulong)i + 7, property.PropertyType);
            property.SetMethod!.Invoke(vmcs, [typed]);
        }
        for (int i = 0; i < FullFields.Length; i++)
            Assert.Equal((ulong)i + 7, vmcs.Read(FullFields[i]));
    }

    [Fact]
    public void Typed_writes_count_as_writes()
    {
        var vmcs = new Vmcs();
        long before = vmcs.Version;
        vmcs.GuestRip = 0x1000;
        vmcs.GuestCsSelector = 8;
        Assert.Equal(before + 2, vmcs.Version);
        Assert.Equal(0x1000UL, vmcs.Read(VmcsField.GuestRip));
        Assert.Equal(8UL, vmcs.Read(VmcsField.GuestCsSelector));
    }

    [Fact]
    public void Fred_fields_are_stored_as_64_bit_fields_with_a_high_access()
    {
        var vmcs = new Vmcs();
        vmcs.GuestIa32FredConfig = 0x1234_5678_9ABC_DEF0;
        Assert.Equal(0x1234_5678UL, vmcs.Read(VmcsField.GuestIa32FredConfigHigh));
        Assert.True(vmcs.TryWrite((ulong)VmcsField.HostIa32FredSsp3High, 0xFFFF_8000));
        Assert.Equal(0xFFFF_8000_0000_0000UL, vmcs.HostIa32FredSsp3);
        vmcs.InjectedEventData = 0x42;
        Assert.True(vmcs.TryRead((ulong)VmcsField.InjectedEventData, out ulong data));
        Assert.Equal(0x42UL, data);
        Assert.False(Vmcs.IsSupported(0x2404)); // ORIGINAL_EVENT_DATA: not in the table (one source only)
    }
}
