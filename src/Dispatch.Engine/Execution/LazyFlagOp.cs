namespace Dispatch.Execution;

/// <summary>
/// The last flag-producing operation, kept instead of the flags themselves: most flags an ALU instruction writes are
/// overwritten before anything reads them, so they are computed only when read (as QEMU's cc_op and Bochs' lazy flags do).
/// </summary>
internal enum LazyFlagOp : byte
{
    /// <summary>The status flags are materialised in the flags word.</summary>
    None,
    Add,
    Adc,
    Sub,
    Sbb,
    Logic,
    /// <summary>INC: CF is not written, so it stays in the flags word.</summary>
    Inc,
    /// <summary>DEC: CF is not written, so it stays in the flags word.</summary>
    Dec,
    /// <summary>SHL/SAL by a non-zero count (in the second operand): CF is the last bit shifted out, OF = MSB(result) XOR CF, AF = 0.</summary>
    Shl,
    /// <summary>SHR by a non-zero count: CF is the last bit shifted out, OF = MSB(original), AF = 0.</summary>
    Shr,
    /// <summary>SAR by a non-zero count: CF is the last bit shifted out, OF = 0, AF = 0.</summary>
    Sar,
}
