using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>
/// Straight-line guest code decoded once: instructions from one linear address up to the first control transfer, the
/// end of the page, or an instruction that needs the run loop. Executed many times; dropped when its page is written.
/// </summary>
internal sealed class DecodedBlock
{
    public const int MaxInstructions = 64;

    public DecodedBlock(ulong linearStart, ulong physicalPage, Instruction[] instructions, byte[] operandSizes)
    {
        LinearStart = linearStart;
        PhysicalPage = physicalPage;
        Instructions = instructions;
        OperandSizes = operandSizes;
    }

    public ulong LinearStart { get; }

    /// <summary>Guest-physical page number the block's bytes came from.</summary>
    public ulong PhysicalPage { get; }

    public Instruction[] Instructions { get; }

    /// <summary>Operand size in bytes of each instruction's first operand, computed once at decode time.</summary>
    public byte[] OperandSizes { get; }

    /// <summary>Cleared when the page is written; checked after every instruction so self-modifying code is seen.</summary>
    public volatile bool Valid = true;

    // One-entry successor caches (block chaining): skip the dictionary when control goes where it went last time.
    public DecodedBlock? NextTaken;
    public DecodedBlock? NextFallthrough;
}
