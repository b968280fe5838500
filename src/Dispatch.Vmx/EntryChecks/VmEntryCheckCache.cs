using System.Numerics;
using System.Runtime.CompilerServices;

namespace Dispatch.Vmx;

/// <summary>
/// <see cref="VmEntryChecks.Run"/> for one VMCS that is entered again and again, re-running only the checks whose inputs
/// changed. Each check is a deterministic function of the VMCS fields it reads (and the capabilities); when a check runs,
/// the fields it read are recorded with the values of their storage slots. On the next entry every recorded slot is
/// compared once: a check none of whose recorded fields changed would give the same verdict, so only the checks that
/// read a changed field run again, in the SDM's order. The outcome (the first failing check, its error or qualification) is exactly
/// that of a full run: the skipped checks passed last time on the same inputs.
/// <para>
/// A handler that writes guest RIP, a CR read shadow or an event to inject thus costs a handful of checks instead of all
/// of them. A failed run keeps nothing: the next entry runs every check. Allocates nothing after construction.
/// </para>
/// </summary>
public sealed class VmEntryCheckCache
{
    // An array, not the IReadOnlyList it comes as: the loops below index it on every entry.
    private static readonly VmEntryCheck[] s_checks = [.. VmEntryChecks.All];

    // The watched fields: the storage slot of every field some check read, the slot's value then, and which checks read
    // it (one bit per check). Comparing whole slots is exact for full-width reads and conservative for a high access.
    private readonly int[] _slots;
    private readonly ulong[] _values;
    private readonly ulong[] _readers;
    private readonly short[] _indexBySlot = new short[Vmcs.SlotCount];
    private readonly int _words;
    private int _count;

    private readonly VmEntryReadLog _log = new();
    private readonly ulong[] _rerun;
    private VmxCapabilities? _capabilities;
    private bool _valid;

    public VmEntryCheckCache()
    {
        _words = (s_checks.Length + 63) / 64;
        // At most one entry per storage slot.
        int capacity = Vmcs.SlotCount;
        _slots = new int[capacity];
        _values = new ulong[capacity];
        _readers = new ulong[capacity * _words];
        _rerun = new ulong[_words];
        Array.Fill(_indexBySlot, (short)-1);
    }

    /// <summary>Forgets every recorded input: the next run checks everything.</summary>
    public void Invalidate()
    {
        _valid = false;
        for (int i = 0; i < _count; i++) _indexBySlot[_slots[i]] = -1;
        _count = 0;
    }

    /// <summary>The result <see cref="VmEntryChecks.Run"/> would return for this VMCS now.</summary>
    public VmEntryCheckResult Run(Vmcs vmcs, VmxCapabilities capabilities)
    {
        if (!_valid || !ReferenceEquals(capabilities, _capabilities)) return RunAll(vmcs, capabilities);

        // Which checks read a field that changed since they ran?
        Span<ulong> rerun = _rerun;
        rerun.Clear();
        bool any = false;
        ReadOnlySpan<ulong> slots = vmcs.Slots;
        // Spans of exactly the watched entries: the loop indexes them without bounds checks.
        ReadOnlySpan<int> watched = _slots.AsSpan(0, _count);
        Span<ulong> values = _values.AsSpan(0, _count);
        for (int i = 0; i < watched.Length; i++)
        {
            ulong value = slots[watched[i]];
            if (value == values[i]) continue;
            values[i] = value;
            for (int w = 0; w < _words; w++) rerun[w] |= _readers[i * _words + w];
            any = true;
        }
        if (!any) return VmEntryCheckResult.Passed;

        var state = new VmEntryState(vmcs, capabilities, _log);
        // Only the marked checks, in ascending order (the SDM's: the first failure decides the result), found bit by bit.
        for (int w = 0; w < _words; w++)
        {
            for (ulong bits = rerun[w]; bits != 0; bits &= bits - 1)
            {
                int c = (w << 6) + BitOperations.TrailingZeroCount(bits);
                if (RunCheck(c, in state, vmcs, capabilities) is { } ended) return ended;
            }
        }
        return VmEntryCheckResult.Passed;
    }

    private VmEntryCheckResult RunAll(Vmcs vmcs, VmxCapabilities capabilities)
    {
        Invalidate();
        _capabilities = capabilities;
        var state = new VmEntryState(vmcs, capabilities, _log);
        for (int c = 0; c < s_checks.Length; c++)
            if (RunCheck(c, in state, vmcs, capabilities) is { } ended) return ended;
        _valid = true;
        return VmEntryCheckResult.Passed;
    }

    /// <summary>
    /// Runs check <paramref name="c"/> and records the fields it read. Returns the result when the run ends here: the
    /// check failed (the cache is emptied), or its inputs could not be recorded (the log overflowed; the cache is empty
    /// again and the answer is a plain run's). Null when the run goes on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private VmEntryCheckResult? RunCheck(int c, in VmEntryState state, Vmcs vmcs, VmxCapabilities capabilities)
    {
        var check = s_checks[c];
        _log.Clear();
        if (!check.Passes(in state))
        {
            Invalidate();
            return VmEntryCheckResult.Failed(check);
        }
        return Remember(c, vmcs) ? null : VmEntryChecks.Run(vmcs, capabilities);
    }

    /// <summary>Adds the fields check <paramref name="check"/> just read to the watched set. False (and invalid) on overflow.</summary>
    private bool Remember(int check, Vmcs vmcs)
    {
        if (_log.Overflowed)
        {
            Invalidate();
            return false;
        }
        for (int j = 0; j < _log.Count; j++)
        {
            VmcsField field = _log.FieldAt(j);
            int slot = Vmcs.SlotIndex(field);
            int index = _indexBySlot[slot];
            if (index < 0)
            {
                index = _count++;
                _indexBySlot[slot] = (short)index;
                _slots[index] = slot;
                for (int w = 0; w < _words; w++) _readers[index * _words + w] = 0;
            }
            // Nothing was written since the check read the field: the slot holds what it saw. (A field already watched
            // holds the current value too: it was compared, and updated, before any check ran.)
            _values[index] = vmcs.Slots[_slots[index]];
            _readers[index * _words + (check >> 6)] |= 1UL << check;
        }
        return true;
    }
}
