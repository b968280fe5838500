using System.Runtime.CompilerServices;

namespace Dispatch;

/// <summary>
/// The sixteen general-purpose registers of a vCPU, indexed as the x86 encodings number them (RAX = 0 ... R15 = 15), which is
/// also the numbering of the GPR fields in exit qualifications. VT-x keeps these in the processor across a VM exit, not in
/// the VMCS, so handlers read and write them here; RIP, RSP and RFLAGS are in the VMCS.
/// </summary>
public struct GuestRegisters
{
    private GprArray _gpr;

    /// <summary>Register by encoding number (0 = RAX ... 15 = R15).</summary>
    /// <remarks>
    /// Forced inline: the interpreter's block loop is one large method, and once the JIT's inlining budget for it is
    /// spent, an ordinary accessor stays a call on every register access.
    /// </remarks>
    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    public ref ulong this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref _gpr[index & 15];
    }

    /// <summary>All sixteen registers by encoding number, for loops that index them many times.</summary>
    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    internal Span<ulong> AsSpan() => _gpr;

    public ulong Rax { readonly get => _gpr[0]; set => _gpr[0] = value; }
    public ulong Rcx { readonly get => _gpr[1]; set => _gpr[1] = value; }
    public ulong Rdx { readonly get => _gpr[2]; set => _gpr[2] = value; }
    public ulong Rbx { readonly get => _gpr[3]; set => _gpr[3] = value; }
    public ulong Rsp { readonly get => _gpr[4]; set => _gpr[4] = value; }
    public ulong Rbp { readonly get => _gpr[5]; set => _gpr[5] = value; }
    public ulong Rsi { readonly get => _gpr[6]; set => _gpr[6] = value; }
    public ulong Rdi { readonly get => _gpr[7]; set => _gpr[7] = value; }
    public ulong R8 { readonly get => _gpr[8]; set => _gpr[8] = value; }
    public ulong R9 { readonly get => _gpr[9]; set => _gpr[9] = value; }
    public ulong R10 { readonly get => _gpr[10]; set => _gpr[10] = value; }
    public ulong R11 { readonly get => _gpr[11]; set => _gpr[11] = value; }
    public ulong R12 { readonly get => _gpr[12]; set => _gpr[12] = value; }
    public ulong R13 { readonly get => _gpr[13]; set => _gpr[13] = value; }
    public ulong R14 { readonly get => _gpr[14]; set => _gpr[14] = value; }
    public ulong R15 { readonly get => _gpr[15]; set => _gpr[15] = value; }

    [InlineArray(16)]
    private struct GprArray
    {
        private ulong _element;
    }
}
