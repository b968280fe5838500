using Dispatch.Memory;

namespace Dispatch.Engine.Tests.Robustness;

/// <summary>
/// The bounds of <see cref="GuestMemory"/>, the only code holding raw pointers: several regions with holes between them,
/// accesses at and across region ends, wrapping and huge addresses.
/// </summary>
public sealed unsafe class GuestMemoryBoundsTests
{
    // [0, 64K) RAM, [64K, 128K) hole, [128K, 192K) and [192K, 256K) contiguous but separate regions.
    private static GuestMemory ThreeRegions()
    {
        var m = new GuestMemory(0x1_0000);
        m.AddRegion(new GuestPhysicalAddress(0x3_0000), 0x1_0000);
        m.AddRegion(new GuestPhysicalAddress(0x2_0000), 0x1_0000);
        return m;
    }

    [Theory]
    [InlineData(0x0FFFFUL, 1UL, true)]
    [InlineData(0x0FFFFUL, 2UL, false)]
    [InlineData(0x10000UL, 1UL, false)]
    [InlineData(0x1FFFFUL, 1UL, false)]
    [InlineData(0x20000UL, 0x10000UL, true)]
    [InlineData(0x20000UL, 0x10001UL, false)]
    [InlineData(0x2FFFFUL, 2UL, false)] // straddles two regions even though they touch
    [InlineData(0x3FFFFUL, 1UL, true)]
    [InlineData(0x40000UL, 1UL, false)]
    [InlineData(ulong.MaxValue, 1UL, false)]
    [InlineData(ulong.MaxValue, 2UL, false)] // wraps to 0
    [InlineData(0x10UL, ulong.MaxValue, false)]
    [InlineData(0x0UL, ulong.MaxValue, false)]
    public void IsBacked_is_exact_at_region_ends(ulong address, ulong length, bool backed)
    {
        using var m = ThreeRegions();
        Assert.Equal(backed, m.IsBacked(new GuestPhysicalAddress(address), length));
    }

    [Theory]
    [InlineData(0x0FFF8UL, 8)]
    [InlineData(0x3FFF0UL, 16)]
    [InlineData(0x40000UL, 0)]
    public void GetSpan_reaches_the_last_byte_of_a_region(ulong address, int length)
    {
        using var m = ThreeRegions();
        var span = m.GetSpan(new GuestPhysicalAddress(address), length);
        Assert.Equal(length, span.Length);
        span.Fill(0xAB);
    }

    [Theory]
    [InlineData(0x0FFF9UL, 8)]
    [InlineData(0x10000UL, 1)]
    [InlineData(0x2FFFCUL, 8)]
    [InlineData(0x3FFFFUL, 2)]
    [InlineData(0xFFFF_FFFF_FFFF_FFF8UL, 16)]
    [InlineData(0x0UL, -1)]
    [InlineData(0x0UL, int.MaxValue)]
    public void GetSpan_refuses_anything_not_inside_one_region(ulong address, int length)
    {
        using var m = ThreeRegions();
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetSpan(new GuestPhysicalAddress(address), length));
    }

    [Fact]
    public void A_write_across_a_region_end_fails_without_writing_anything()
    {
        using var m = ThreeRegions();
        byte[] data = [1, 2, 3, 4, 5, 6, 7, 8];
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Write(new GuestPhysicalAddress(0x2FFFC), data));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Write(new GuestPhysicalAddress(0xFFFC), data));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Write(new GuestPhysicalAddress(0xFFFC), ulong.MaxValue));
        Assert.All(m.GetSpan(new GuestPhysicalAddress(0x2F000), 0x1000).ToArray(), b => Assert.Equal(0, b));
        Assert.All(m.GetSpan(new GuestPhysicalAddress(0x30000), 0x1000).ToArray(), b => Assert.Equal(0, b));
        Assert.All(m.GetSpan(new GuestPhysicalAddress(0xF000), 0x1000).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Reads_outside_RAM_fail_cleanly()
    {
        using var m = ThreeRegions();
        Assert.Throws<ArgumentOutOfRangeException>(() => m.ReadUInt64(new GuestPhysicalAddress(0xFFFC)));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Read<ulong>(new GuestPhysicalAddress(ulong.MaxValue - 3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Read(new GuestPhysicalAddress(0x3FFFF), new byte[2]));
    }

    [Fact]
    public void TryGetPage_maps_exactly_the_pages_of_each_region()
    {
        using var m = ThreeRegions();
        byte* first = m.TryGetPage(0);
        Assert.True(first != null);
        Assert.True(m.TryGetPage(0xF000) == first + 0xF000);
        Assert.True(m.TryGetPage(0x10000) == null);
        Assert.True(m.TryGetPage(0x1F000) == null);
        Assert.True(m.TryGetPage(0x2_0000) != null);
        Assert.True(m.TryGetPage(0x3_F000) != null);
        Assert.True(m.TryGetPage(0x4_0000) == null);
        Assert.True(m.TryGetPage(ulong.MaxValue & ~0xFFFUL) == null);
        Assert.True(m.TryGetPage(1UL << 63) == null);
        // The page of any address inside a region is the page's start, whatever the offset.
        Assert.True(m.TryGetPage(0x2_0FFF) == m.TryGetPage(0x2_0000) + 0x0);
        // Two regions adjacent in guest-physical space are separate host allocations: pages map into their own region.
        m.Write(new GuestPhysicalAddress(0x2_FFFF), (byte)0x5A);
        Assert.Equal(0x5A, m.TryGetPage(0x2_F000)[0xFFF]);
        Assert.Equal(0, m.TryGetPage(0x3_0000)[0]);
    }

    [Theory]
    [InlineData(0x0UL, 0x1000UL)] // overlaps the first region
    [InlineData(0x3_F000UL, 0x2000UL)] // overlaps the last region's end
    [InlineData(0x5_0000UL, 0UL)]
    [InlineData(0x5_0001UL, 0x1000UL)]
    [InlineData(0x5_0000UL, 0x1001UL)]
    [InlineData(0xFFFF_FFFF_FFFF_F000UL, 0x2000UL)] // wraps
    public void AddRegion_refuses_bad_regions(ulong start, ulong size)
    {
        using var m = ThreeRegions();
        Assert.ThrowsAny<ArgumentException>(() => m.AddRegion(new GuestPhysicalAddress(start), size));
        Assert.Equal(0x3_0000UL, m.TotalSize);
    }

    [Fact]
    public void A_region_ending_at_the_top_of_the_address_space_is_refused_not_wrapped()
    {
        using var m = new GuestMemory();
        Assert.ThrowsAny<ArgumentException>(() => m.AddRegion(new GuestPhysicalAddress(0xFFFF_FFFF_FFFF_F000), 0x1000));
    }

    [Fact]
    public void A_region_high_in_the_address_space_is_bounds_checked()
    {
        using var m = new GuestMemory();
        m.AddRegion(new GuestPhysicalAddress(0xFFFF_FFFF_FFFF_0000), 0x1000);
        Assert.True(m.IsBacked(new GuestPhysicalAddress(0xFFFF_FFFF_FFFF_0FFF)));
        Assert.False(m.IsBacked(new GuestPhysicalAddress(0xFFFF_FFFF_FFFF_0FFF), 2));
        Assert.True(m.TryGetPage(0xFFFF_FFFF_FFFF_1000) == null);
        Assert.True(m.TryGetPage(0) == null);
    }

    [Fact]
    public void Disposed_memory_backs_nothing()
    {
        var m = ThreeRegions();
        m.Dispose();
        Assert.True(m.TryGetPage(0) == null);
        Assert.False(m.IsBacked(new GuestPhysicalAddress(0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetSpan(new GuestPhysicalAddress(0), 1));
        Assert.Throws<ObjectDisposedException>(() => m.AddRegion(new GuestPhysicalAddress(0), 0x1000));
        m.Dispose();
    }

    [Fact]
    public void Running_a_vcpu_of_a_disposed_machine_is_refused()
    {
        var (vm, vcpu) = TestGuest.Create(a => { var l = a.CreateLabel(); a.Label(ref l); a.mov(Iced.Intel.AssemblerRegisters.__qword_ptr[0x9000], Iced.Intel.AssemblerRegisters.rax); a.jmp(l); });
        var handler = new RecordingHandler();
        Assert.Equal(RunOutcome.BudgetExhausted, vcpu.Run(ref handler, new RunOptions { MaxInstructions = 100 }).Outcome);
        vm.Dispose();
        // Its TLB still holds host pointers into the freed memory: running again must not reach them.
        Assert.Throws<ObjectDisposedException>(() => vcpu.Run(ref handler, new RunOptions { MaxInstructions = 100 }));
    }
}
