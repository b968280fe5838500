using Dispatch.Vmx;
using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>
/// x87, SSE and later instruction sets. Not implemented yet: every such instruction raises #UD, which CPUID agrees with
/// (it reports no FPU and no SSE).
/// </summary>
internal sealed partial class Processor
{
    private ExecutionStatus FloatingPointInstruction(ref Instruction ins, int size)
    {
        _ = size;
        _ = ins;
        RaiseException(ExceptionVector.InvalidOpcode);
        return ExecutionStatus.Continue;
    }
}
