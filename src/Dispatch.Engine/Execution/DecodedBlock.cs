using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>
/// Straight-line guest code decoded once: instructions from one linear address up to the first control transfer, the
/// end of the page, or an instruction that needs the run loop. Executed many times; dropped when its page is written.
/// </summary>
internal sealed class DecodedBlock
{
    public const int MaxInstructions = 64;

    public DecodedBlock(ulong linearStart, ulong physicalPage, Instruction[] instructions, MicroOp[] ops, MicroOp[] exactOps)
    {
        ExactOps = exactOps;
        LinearStart = linearStart;
        PhysicalPage = physicalPage;
        Instructions = instructions;
        Ops = ops;
    }

    public ulong LinearStart { get; }

    /// <summary>Guest-physical page number the block's bytes came from.</summary>
    public ulong PhysicalPage { get; }

    public Instruction[] Instructions { get; }

    /// <summary>Each instruction pre-digested at decode time (handler kind, registers, operand size), in step with <see cref="Instructions"/>.</summary>
    public MicroOp[] Ops { get; }

    /// <summary>
    /// <see cref="Ops"/> before dead flags were dropped: every instruction records its flags. Run when the block may
    /// stop before its end for a reason the block cannot see (the instruction budget), so the flags are exact there.
    /// </summary>
    public MicroOp[] ExactOps { get; }

    /// <summary>Cleared when the page is written; checked after every instruction so self-modifying code is seen.</summary>
    public volatile bool Valid = true;

    // One-entry successor caches (block chaining): skip the dictionary when control goes where it went last time.
    public DecodedBlock? NextTaken;
    public DecodedBlock? NextFallthrough;
}
