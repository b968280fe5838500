using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Dispatch.Memory;
using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>
/// LOCK-prefixed read-modify-write instructions (and XCHG with memory) on a naturally aligned operand in guest RAM run
/// as host atomic operations on the guest's bytes: a compare-and-swap loop for the arithmetic and logic forms,
/// <see cref="Interlocked.Exchange(ref ulong, ulong)"/> for XCHG, one compare-and-swap for CMPXCHG. That makes them
/// atomic against every other vCPU's accesses, locked or not, without a global lock. An aligned operand of 1-8 bytes
/// never straddles a page, so one translation (with its permission, EPT and code-page checks) covers it.
/// <para>Unaligned operands (split locks), holes and the other locked instructions take the global lock instead;
/// they are atomic with respect to each other but not to a concurrent aligned atomic on overlapping bytes, a
/// combination real software avoids (split locks are themselves a bug that Linux reports).</para>
/// </summary>
internal sealed unsafe partial class Processor
{
    /// <summary>Runs <paramref name="ins"/> atomically on host memory; false when it must take the global lock instead.</summary>
    private bool TryExecuteAtomic(ref Instruction ins, int size)
    {
        var m = ins.Mnemonic;
        if (ins.Op0Kind != OpKind.Memory || size is not (1 or 2 or 4 or 8)) return false;
        if (m is not (Mnemonic.Add or Mnemonic.Sub or Mnemonic.And or Mnemonic.Or or Mnemonic.Xor or Mnemonic.Adc
            or Mnemonic.Sbb or Mnemonic.Inc or Mnemonic.Dec or Mnemonic.Neg or Mnemonic.Not or Mnemonic.Xadd
            or Mnemonic.Cmpxchg or Mnemonic.Xchg)) return false;
        ulong address = EffectiveAddress(in ins);
        if ((address & (ulong)(size - 1)) != 0) return false;
        if (!TryTranslateAtomic(address, out ulong gpa, out bool codePage)) return false;

        ulong mask = SizeMask(size);
        ulong source = m switch
        {
            Mnemonic.Inc or Mnemonic.Dec or Mnemonic.Neg or Mnemonic.Not => 0,
            Mnemonic.Cmpxchg or Mnemonic.Xadd or Mnemonic.Xchg => ReadRegister(ins.Op1Register),
            _ => ReadOperand(in ins, 1, size),
        };
        var target = new GuestPhysicalAddress(gpa);
        switch (m)
        {
            case Mnemonic.Xchg:
            {
                ulong old = Exchange(target, size, source);
                WriteRegister(ins.Op1Register, old);
                break;
            }
            case Mnemonic.Cmpxchg:
            {
                ulong expected = Gpr.Rax & mask;
                ulong old = CompareExchange(target, size, source, expected);
                SetLazy(LazyFlagOp.Sub, expected, old, (expected - old) & mask, size);
                if (old != expected) WriteRegister(SizedAccumulator(size), old);
                break;
            }
            default:
            {
                bool carry = m is Mnemonic.Adc or Mnemonic.Sbb && GetCF();
                ulong old = Read(target, size), result;
                while (true)
                {
                    result = AtomicResult(m, old, source, carry) & mask;
                    ulong seen = CompareExchange(target, size, result, old);
                    if (seen == old) break;
                    old = seen;
                }
                SetAtomicFlags(m, old, source, result, carry, size);
                if (m == Mnemonic.Xadd) WriteRegister(ins.Op1Register, old);
                break;
            }
        }
        if (codePage) Memory.CodePages.NotifyWrite(gpa, (ulong)size);
        return true;
    }

    /// <summary>
    /// The guest-physical address for a locked write at <paramref name="linear"/> (which may fault or exit as any write);
    /// false for a hole, which has no bytes to operate on. <paramref name="codePage"/> says the page may hold decoded code.
    /// </summary>
    private bool TryTranslateAtomic(ulong linear, out ulong gpa, out bool codePage)
    {
        var t = _tlb.Write;
        int i = SoftwareTlb.Index(linear);
        ulong physicalPage;
        // The write TLB never maps a code page, so a hit needs no code-page notification.
        codePage = false;
        if (t.Tags[i] == SoftwareTlb.Tag(linear, Cpl == 3)) physicalPage = t.PhysicalPages[i];
        else
        {
            if (TranslateSlow(linear, AccessKind.Write, Cpl == 3, out physicalPage) == null)
            {
                gpa = 0;
                return false;
            }
            codePage = true;
        }
        gpa = (physicalPage << 12) | (linear & 0xFFF);
        return true;
    }

    private static ulong AtomicResult(Mnemonic m, ulong old, ulong source, bool carry) => m switch
    {
        Mnemonic.Add or Mnemonic.Xadd => old + source,
        Mnemonic.Sub => old - source,
        Mnemonic.And => old & source,
        Mnemonic.Or => old | source,
        Mnemonic.Xor => old ^ source,
        Mnemonic.Adc => old + source + (carry ? 1UL : 0),
        Mnemonic.Sbb => old - source - (carry ? 1UL : 0),
        Mnemonic.Inc => old + 1,
        Mnemonic.Dec => old - 1,
        Mnemonic.Neg => 0 - old,
        _ => ~old,
    };

    private void SetAtomicFlags(Mnemonic m, ulong old, ulong source, ulong result, bool carry, int size)
    {
        switch (m)
        {
            case Mnemonic.Add: case Mnemonic.Xadd: SetLazy(LazyFlagOp.Add, old, source, result, size); break;
            case Mnemonic.Sub: SetLazy(LazyFlagOp.Sub, old, source, result, size); break;
            case Mnemonic.Adc: SetCarryIn(carry); SetLazy(LazyFlagOp.Adc, old, source, result, size); break;
            case Mnemonic.Sbb: SetCarryIn(carry); SetLazy(LazyFlagOp.Sbb, old, source, result, size); break;
            case Mnemonic.Inc: SetLazy(LazyFlagOp.Inc, old, 1, result, size); break;
            case Mnemonic.Dec: SetLazy(LazyFlagOp.Dec, old, 1, result, size); break;
            case Mnemonic.Neg: SetLazy(LazyFlagOp.Sub, 0, old, result, size); break;
            case Mnemonic.Not: break;
            default: SetLazy(LazyFlagOp.Logic, 0, 0, result, size); break;
        }
    }

    private ulong Read(GuestPhysicalAddress address, int size) => size switch
    {
        1 => Volatile.Read(ref Memory.AlignedReference<byte>(address)),
        2 => Volatile.Read(ref Memory.AlignedReference<ushort>(address)),
        4 => Volatile.Read(ref Memory.AlignedReference<uint>(address)),
        _ => Volatile.Read(ref Memory.AlignedReference<ulong>(address)),
    };

    /// <summary>Stores <paramref name="value"/> if the operand holds <paramref name="expected"/>; returns what it held.</summary>
    private ulong CompareExchange(GuestPhysicalAddress address, int size, ulong value, ulong expected) => size switch
    {
        1 => Interlocked.CompareExchange(ref Memory.AlignedReference<byte>(address), (byte)value, (byte)expected),
        2 => Interlocked.CompareExchange(ref Memory.AlignedReference<ushort>(address), (ushort)value, (ushort)expected),
        4 => Interlocked.CompareExchange(ref Memory.AlignedReference<uint>(address), (uint)value, (uint)expected),
        _ => Interlocked.CompareExchange(ref Memory.AlignedReference<ulong>(address), value, expected),
    };

    private ulong Exchange(GuestPhysicalAddress address, int size, ulong value) => size switch
    {
        1 => Interlocked.Exchange(ref Memory.AlignedReference<byte>(address), (byte)value),
        2 => Interlocked.Exchange(ref Memory.AlignedReference<ushort>(address), (ushort)value),
        4 => Interlocked.Exchange(ref Memory.AlignedReference<uint>(address), (uint)value),
        _ => Interlocked.Exchange(ref Memory.AlignedReference<ulong>(address), value),
    };
}
