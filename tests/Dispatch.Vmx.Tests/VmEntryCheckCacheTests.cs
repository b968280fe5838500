namespace Dispatch.Vmx.Tests;

/// <summary>
/// <see cref="VmEntryCheckCache"/> must answer exactly as a full <see cref="VmEntryChecks.Run"/> (same outcome, error,
/// qualification and failing check) whatever was written between entries: every single-check violation applied and
/// undone on one cache, and long sequences of random writes compared step by step.
/// </summary>
public class VmEntryCheckCacheTests
{
    private static readonly VmcsField[] s_fields = Enum.GetValues<VmcsField>().Where(f => Vmcs.IsSupported((uint)f) && ((uint)f & 1) == 0).ToArray();

    private static void AssertSameAsFullRun(VmEntryCheckCache cache, Vmcs vmcs, VmxCapabilities caps, string step)
    {
        var expected = VmEntryChecks.Run(vmcs, caps);
        var actual = cache.Run(vmcs, caps);
        Assert.True(expected == actual, $"{step}: full run {expected}, cache {actual}");
    }

    private static ulong[] Snapshot(Vmcs vmcs) => s_fields.Select(vmcs.Read).ToArray();

    private static void Restore(Vmcs vmcs, ulong[] values)
    {
        for (int i = 0; i < s_fields.Length; i++) vmcs.Write(s_fields[i], values[i]);
    }

    [Fact]
    public void EveryViolation_AppliedAndUndone_OnOneCache_MatchesTheFullRun()
    {
        var caps = VmxCapabilities.Default;
        var vmcs = ValidVmcs.Create(caps);
        var cache = new VmEntryCheckCache();
        Assert.True(cache.Run(vmcs, caps).IsPassed);
        var valid = Snapshot(vmcs);
        foreach (var (name, (breakIt, violationCaps)) in VmEntryCheckTests.s_violations.OrderBy(p => p.Key))
        {
            var c = violationCaps ?? caps;
            if (violationCaps is not null) Restore(vmcs, Snapshot(ValidVmcs.Create(c)));
            AssertSameAsFullRun(cache, vmcs, c, $"{name} before");
            breakIt(vmcs);
            var result = cache.Run(vmcs, c);
            Assert.Equal(name, result.FailedCheckName);
            Assert.True(VmEntryChecks.Run(vmcs, c) == result, name);
            Restore(vmcs, valid);
            AssertSameAsFullRun(cache, vmcs, caps, $"{name} undone");
            Assert.True(cache.Run(vmcs, caps).IsPassed, name);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void RandomWrites_BetweenEntries_MatchTheFullRun(int seed)
    {
        var random = new Random(seed);
        var caps = VmxCapabilities.Default;
        var vmcs = ValidVmcs.Create(caps);
        var valid = Snapshot(vmcs);
        var cache = new VmEntryCheckCache();
        ulong[] interesting = [0, 1, 2, 3, 0x10, 0x202, 0xFFFF_FFFF, ulong.MaxValue, 0x8000_0000_0000, 0x0000_8000_0000_0000, 0x13000, 0x80000B0E];
        for (int step = 0; step < 3000; step++)
        {
            // Mostly one or two writes between entries, as handlers do; sometimes back to the valid VMCS.
            if (random.Next(8) == 0) Restore(vmcs, valid);
            int writes = 1 + random.Next(2);
            for (int w = 0; w < writes; w++)
            {
                int index = random.Next(s_fields.Length);
                ulong value = random.Next(3) switch
                {
                    0 => valid[index] ^ (1UL << random.Next(64)),
                    1 => interesting[random.Next(interesting.Length)],
                    _ => valid[index],
                };
                vmcs.Write(s_fields[index], value);
            }
            AssertSameAsFullRun(cache, vmcs, caps, $"seed {seed} step {step}");
        }
    }

    [Fact]
    public void CachedRun_AfterAGuestRipWrite_AllocatesNothing()
    {
        var caps = VmxCapabilities.Default;
        var vmcs = ValidVmcs.Create(caps);
        var cache = new VmEntryCheckCache();
        cache.Run(vmcs, caps);
        vmcs.Write(VmcsField.GuestRip, 0x1000);
        cache.Run(vmcs, caps);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            vmcs.Write(VmcsField.GuestRip, 0x2000 + (ulong)i);
            Assert.True(cache.Run(vmcs, caps).IsPassed);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
