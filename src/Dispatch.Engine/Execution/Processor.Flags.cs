using System.Numerics;
using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Dispatch.Execution;

internal sealed partial class Processor
{
    // RFLAGS bits other than the lazily computed status flags live here; the status flags too when _lazyOp is None.
    private ulong _flags = Dispatch.Rflags.Reserved1;
    private LazyFlagOp _lazyOp;
    private ulong _lazyA, _lazyB, _lazyResult, _lazyMask, _lazySign;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetLazy(LazyFlagOp op, ulong a, ulong b, ulong result, int size)
    {
        // INC and DEC keep CF: remember it before the previous operation is forgotten.
        if (op is (LazyFlagOp.Inc or LazyFlagOp.Dec) && _lazyOp is not (LazyFlagOp.Inc or LazyFlagOp.Dec)) _flagsCarryIn = GetCF();
        _lazyOp = op;
        _lazyA = a;
        _lazyB = b;
        _lazyResult = result;
        _lazyMask = SizeMask(size);
        _lazySign = 1UL << (size * 8 - 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SizeMask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    internal ulong MaterializeFlags()
    {
        if (_lazyOp != LazyFlagOp.None)
        {
            ulong f = _flags & ~Dispatch.Rflags.Status;
            if (LazyCarry()) f |= Dispatch.Rflags.CF;
            if (LazyParity()) f |= Dispatch.Rflags.PF;
            if (LazyAdjust()) f |= Dispatch.Rflags.AF;
            if ((_lazyResult & _lazyMask) == 0) f |= Dispatch.Rflags.ZF;
            if ((_lazyResult & _lazySign) != 0) f |= Dispatch.Rflags.SF;
            if (LazyOverflow()) f |= Dispatch.Rflags.OF;
            _flags = f;
            _lazyOp = LazyFlagOp.None;
        }
        return _flags | Dispatch.Rflags.Reserved1;
    }

    internal void SetFlags(ulong value)
    {
        _lazyOp = LazyFlagOp.None;
        _flags = (value & Dispatch.Rflags.Writable) | Dispatch.Rflags.Reserved1;
    }

    /// <summary>Replaces only the status flags (for instructions that compute them eagerly).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetStatusFlags(ulong status)
    {
        _lazyOp = LazyFlagOp.None;
        _flags = (_flags & ~Dispatch.Rflags.Status) | (status & Dispatch.Rflags.Status);
    }

    private bool LazyCarry()
    {
        ulong a = _lazyA & _lazyMask, b = _lazyB & _lazyMask, r = _lazyResult & _lazyMask;
        return _lazyOp switch
        {
            LazyFlagOp.Add => r < a,
            LazyFlagOp.Adc => (_flagsCarryIn ? r <= a : r < a),
            LazyFlagOp.Sub => a < b,
            LazyFlagOp.Sbb => (_flagsCarryIn ? a <= b : a < b),
            LazyFlagOp.Inc or LazyFlagOp.Dec => _flagsCarryIn,
            LazyFlagOp.Shl => ShiftLeftCarry(),
            // The count (1..31, or 1..63 for 64-bit operands) is in B; a is already masked to the operand size.
            LazyFlagOp.Shr => ((a >> ((int)_lazyB - 1)) & 1) != 0,
            LazyFlagOp.Sar => ((SignExtendedLazyA() >> Math.Min((int)_lazyB - 1, 63)) & 1) != 0,
            _ => false,
        };
    }

    // The last bit shifted out of a left shift is bit (width - count) of the operand: the sign bit of a << (count - 1).
    // A count above the width (8- and 16-bit operands) has shifted every bit out, and this is then 0 as it should be.
    private bool ShiftLeftCarry() => (((_lazyA & _lazyMask) << ((int)_lazyB - 1)) & _lazySign) != 0;

    private long SignExtendedLazyA()
    {
        ulong a = _lazyA & _lazyMask;
        return (long)((a & _lazySign) != 0 ? a | ~_lazyMask : a);
    }

    // For ADC/SBB the carry that went in, for INC/DEC the carry they keep; kept apart because the flags word is stale
    // while an operation is pending.
    private bool _flagsCarryIn;

    private bool LazyOverflow()
    {
        ulong a = _lazyA, b = _lazyB, r = _lazyResult, s = _lazySign;
        return _lazyOp switch
        {
            LazyFlagOp.Add or LazyFlagOp.Adc => ((a ^ r) & (b ^ r) & s) != 0,
            LazyFlagOp.Sub or LazyFlagOp.Sbb => ((a ^ b) & (a ^ r) & s) != 0,
            LazyFlagOp.Inc => (r & _lazyMask) == s,
            LazyFlagOp.Dec => (r & _lazyMask) == s - 1,
            LazyFlagOp.Shl => ((r & s) != 0) ^ ShiftLeftCarry(),
            LazyFlagOp.Shr => (a & s) != 0,
            _ => false,
        };
    }

    private bool LazyAdjust() => _lazyOp switch
    {
        // AF is undefined after logic operations and shifts; the engine clears it.
        LazyFlagOp.Logic or LazyFlagOp.Shl or LazyFlagOp.Shr or LazyFlagOp.Sar => false,
        _ => ((_lazyA ^ _lazyB ^ _lazyResult) & 0x10) != 0,
    };

    private bool LazyParity() => (BitOperations.PopCount(_lazyResult & 0xFF) & 1) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool GetCF() => _lazyOp == LazyFlagOp.None ? (_flags & Dispatch.Rflags.CF) != 0 : LazyCarry();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool GetZF() => _lazyOp == LazyFlagOp.None ? (_flags & Dispatch.Rflags.ZF) != 0 : (_lazyResult & _lazyMask) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool GetSF() => _lazyOp == LazyFlagOp.None ? (_flags & Dispatch.Rflags.SF) != 0 : (_lazyResult & _lazySign) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool GetOF() => _lazyOp == LazyFlagOp.None ? (_flags & Dispatch.Rflags.OF) != 0 : LazyOverflow();

    internal bool GetPF() => _lazyOp == LazyFlagOp.None ? (_flags & Dispatch.Rflags.PF) != 0 : LazyParity();

    internal bool GetDF() => (_flags & Dispatch.Rflags.DF) != 0;

    internal bool GetIF() => (_flags & Dispatch.Rflags.IF) != 0;

    /// <summary>Evaluates an Iced condition code against the current flags.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Condition(ConditionCode cc)
    {
        // Fast path for the most common pairing: CMP/SUB followed by a conditional.
        if (_lazyOp == LazyFlagOp.Sub)
        {
            ulong a = _lazyA & _lazyMask, b = _lazyB & _lazyMask;
            switch (cc)
            {
                case ConditionCode.e: return a == b;
                case ConditionCode.ne: return a != b;
                case ConditionCode.b: return a < b;
                case ConditionCode.ae: return a >= b;
                case ConditionCode.be: return a <= b;
                case ConditionCode.a: return a > b;
            }
        }
        return cc switch
        {
            ConditionCode.o => GetOF(),
            ConditionCode.no => !GetOF(),
            ConditionCode.b => GetCF(),
            ConditionCode.ae => !GetCF(),
            ConditionCode.e => GetZF(),
            ConditionCode.ne => !GetZF(),
            ConditionCode.be => GetCF() || GetZF(),
            ConditionCode.a => !GetCF() && !GetZF(),
            ConditionCode.s => GetSF(),
            ConditionCode.ns => !GetSF(),
            ConditionCode.p => GetPF(),
            ConditionCode.np => !GetPF(),
            ConditionCode.l => GetSF() != GetOF(),
            ConditionCode.ge => GetSF() == GetOF(),
            ConditionCode.le => GetZF() || GetSF() != GetOF(),
            ConditionCode.g => !GetZF() && GetSF() == GetOF(),
            _ => true,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetCarryIn(bool carry) => _flagsCarryIn = carry;
}
