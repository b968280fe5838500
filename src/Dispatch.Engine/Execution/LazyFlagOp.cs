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
}
