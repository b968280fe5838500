using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Dispatch.Vmx;
using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>
/// The interpreter loop: find the decoded block at RIP (by chaining from the previous block, else by a dictionary keyed
/// on the linear address and checked against the physical page), execute its instructions, repeat until the budget
/// runs out or an instruction needs the run loop.
/// </summary>
internal sealed unsafe partial class Processor
{
    private readonly Dictionary<ulong, DecodedBlock> _blocks = [];
    private readonly Dictionary<ulong, List<DecodedBlock>> _blocksByPage = [];
    private readonly ConcurrentQueue<ulong> _writtenCodePages = new();
    private GuestCodeReader? _codeReader;
    private Decoder? _decoder;

    /// <summary>The exit the last <see cref="Execute"/> stopped for.</summary>
    internal PendingExit Exit;

    /// <summary>Set from any thread to make <see cref="Execute"/> return <see cref="StopReason.Cancelled"/> soon.</summary>
    internal volatile bool CancelRequested;

    /// <summary>Set by an instruction that paused part-way (a long REP string) to end the current slice early.</summary>
    internal bool YieldRequested;

    // Register numbers for the block loop, which reaches registers through the (force-inlined) indexer only.
    private const int RcxIndex = 1, RspIndex = 4;

    private ulong _currentInstructionIp;
    // Instructions the block loop has retired in this call before the one it is about to run that may throw (a memory
    // access or a general handler), so that an exception unwinding past it does not lose them from the count.
    private int _retiredBeforeThrow;

    /// <summary>The block loop is about to run the instruction at <paramref name="ip"/>, which may fault.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void MarkFaultPoint(ulong ip, int retiredBefore)
    {
        _currentInstructionIp = ip;
        _retiredBeforeThrow = retiredBefore;
    }
    private int _currentInstructionLength;

    /// <summary>Runs guest code for at most <paramref name="budget"/> instructions and event deliveries.</summary>
    internal StopReason Execute(ref long budget)
    {
        while (true)
        {
            try
            {
                return ExecuteBlocks(ref budget);
            }
            catch (ExecutionInterrupt)
            {
                // The instructions the block loop retired before the one that threw still count.
                budget -= _retiredBeforeThrow;
                InstructionsRetired += _retiredBeforeThrow;
                _retiredBeforeThrow = 0;
                if (ResolveFault(ref budget, out StopReason stop)) return stop;
            }
        }
    }

    /// <summary>
    /// The current instruction faulted (unwound by <see cref="ExecutionInterrupt"/>, or reported as
    /// <see cref="ExecutionStatus.Faulted"/> by the block loop). Returns true when execution stops with <paramref name="stop"/>.
    /// </summary>
    private bool ResolveFault(ref long budget, out StopReason stop)
    {
        // Either way RIP goes back to the faulting instruction.
        Rip = _currentInstructionIp;
        stop = StopReason.VmExit;
        if (_exitPending)
        {
            // A VM exit from inside an instruction (EPT violation or misconfiguration) is fault-like: the guest RIP it
            // saves is the instruction's.
            _exitPending = false;
            return true;
        }
        // A guest exception: delivered (or exits, by the exception bitmap). Delivery itself may fault or exit.
        if (!TryDeliverPendingException()) return true;
        // A delivered event retires no instruction but uses up budget: a guest whose handler faults again before
        // retiring anything (an IDT pointing back at the faulting code) would otherwise never reach a budget, timeout
        // or cancellation check.
        stop = StopReason.Budget;
        return --budget <= 0;
    }

    private StopReason ExecuteBlocks(ref long budget)
    {
        DecodedBlock? previous = null;
        bool previousTaken = false;
        while (budget > 0)
        {
            if (CancelRequested) return StopReason.Cancelled;
            if (_codePagesWritten) PurgeWrittenCodePages();
            DecodedBlock block = previous is null ? FindResumeBlock() : FindBlock(previous, previousTaken);
            // A block cut short by the budget stops where later instructions may not have overwritten the flags yet.
            MicroOp[] ops = budget < block.Ops.Length ? block.ExactOps : block.Ops;
            int limit = budget < ops.Length ? (int)budget : ops.Length;
            // RunBlock may go on into the blocks that follow: block and ops are then the last one it ran.
            int executed = RunBlock(ref block, ref ops, limit, budget, out int chained, out ExecutionStatus status);
            _retiredBeforeThrow = 0;
            budget -= chained + executed;
            InstructionsRetired += chained + executed;
            if (status == ExecutionStatus.Exit)
            {
                Rip = _currentInstructionIp;
                return StopReason.VmExit;
            }
            if (status == ExecutionStatus.Halted) return StopReason.Halted;
            if (status == ExecutionStatus.Faulted)
            {
                if (ResolveFault(ref budget, out StopReason stop)) return stop;
                previous = null;
                continue;
            }
            if (YieldRequested)
            {
                // A long instruction paused itself: end the slice so the run loop checks the timeout.
                YieldRequested = false;
                return StopReason.Budget;
            }
            previousTaken = status == ExecutionStatus.Branched;
            previous = block.Valid && executed == ops.Length ? block : null;
        }
        return StopReason.Budget;
    }

    // The block execution last resumed at. A guest that exits in a loop (CPUID, OUT, ...) resumes at the same RIP every
    // time, so this one entry spares the dictionary lookup on every VM entry.
    private DecodedBlock? _resumeBlock;

    private DecodedBlock FindResumeBlock()
    {
        var cached = _resumeBlock;
        if (cached is not null && cached.LinearStart == Rip && cached.Valid && FetchMappingMatches(cached)) return cached;
        return _resumeBlock = LookupBlock();
    }

    /// <summary>
    /// Runs up to <paramref name="limit"/> instructions of a block; returns how many retired. Common integer forms run
    /// inline from their <see cref="MicroOp"/>; the rest go through <see cref="ExecuteInstruction"/>. RIP is kept
    /// up to date only where something can observe it: before general handlers, memory accesses (a fault restarts at
    /// the instruction) and at the end of the block.
    /// <para>A block ending in a fast jump, call or return goes straight on into the block chained after it when that
    /// block is still valid and mapped, fits in the budget whole, and nothing asks the loop to stop: then
    /// <paramref name="block"/> and <paramref name="ops"/> become the next block's, <paramref name="chained"/> counts
    /// the instructions retired in the blocks left behind, and the return value counts those of the last block.</para>
    /// </summary>
    // Compiled once, fully optimized, without tiering or dynamic PGO: with them, how this large method came out varied from
    // process to process (the integer workload ran at 290-405 MIPS across runs; compiled this way, 506-507 in two runs).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int RunBlock(ref DecodedBlock block, ref MicroOp[] ops, int limit, long budget, out int chained, out ExecutionStatus status)
    {
        // A span over the registers: indexing it needs no call, whatever the JIT's inlining budget for this large method.
        Span<ulong> gpr = Gpr.AsSpan();
        chained = 0;
        // Indexing a span of exactly the ops to run lets the JIT drop the bounds check on every instruction.
        Span<MicroOp> run = ops.AsSpan(0, limit);
        int i = 0;
    NextInstruction:
        while ((uint)i < (uint)run.Length)
        {
            ref MicroOp op = ref run[i];
            switch (op.Kind)
            {
                case FastKind.Nop:
                    break;
                case FastKind.UnconditionalExit:
                    // Retires nothing: the exit is fault-like and saves the instruction's own RIP.
                    _currentInstructionIp = op.Ip;
                    RecordInstructionExit((ExitReason)op.Immediate, 0, op.Length);
                    status = ExecutionStatus.Exit;
                    return i;
                case FastKind.MovRR:
                    gpr[op.Dst] = gpr[op.Src] & op.Mask;
                    break;
                case FastKind.MovRI:
                    gpr[op.Dst] = op.Immediate;
                    break;
                case FastKind.Load:
                {
                    ulong address = FastAddress(gpr, ref op);
                    if (!IsCanonical(address)) goto default;
                    MarkFaultPoint(op.Ip, chained + i);
                    if (!TryReadMemory(address, op.Size, out ulong loaded)) goto faulted;
                    gpr[op.Dst] = loaded;
                    break;
                }
                case FastKind.Store:
                case FastKind.StoreImm:
                {
                    ulong address = FastAddress(gpr, ref op);
                    if (!IsCanonical(address)) goto default;
                    MarkFaultPoint(op.Ip, chained + i);
                    if (!TryWriteMemory(address, op.Size, op.Kind == FastKind.Store ? gpr[op.Src] : op.Immediate)) goto faulted;
                    if (!block.Valid)
                    {
                        Rip = op.NextIp;
                        status = ExecutionStatus.FellThrough;
                        return i + 1;
                    }
                    break;
                }
                case FastKind.Add: { ulong a = gpr[op.Dst], b = gpr[op.Src], r = (a + b) & op.Mask; gpr[op.Dst] = r; SetLazyFast(LazyFlagOp.Add, a, b, r, ref op); break; }
                case FastKind.Sub: { ulong a = gpr[op.Dst], b = gpr[op.Src], r = (a - b) & op.Mask; gpr[op.Dst] = r; SetLazyFast(LazyFlagOp.Sub, a, b, r, ref op); break; }
                case FastKind.And: { ulong r = gpr[op.Dst] & gpr[op.Src] & op.Mask; gpr[op.Dst] = r; SetLazyFast(LazyFlagOp.Logic, 0, 0, r, ref op); break; }
                case FastKind.Or: { ulong r = (gpr[op.Dst] | gpr[op.Src]) & op.Mask; gpr[op.Dst] = r; SetLazyFast(LazyFlagOp.Logic, 0, 0, r, ref op); break; }
                case FastKind.Xor: { ulong r = (gpr[op.Dst] ^ gpr[op.Src]) & op.Mask; gpr[op.Dst] = r; SetLazyFast(LazyFlagOp.Logic, 0, 0, r, ref op); break; }
                case FastKind.Cmp: { ulong a = gpr[op.Dst] & op.Mask, b = gpr[op.Src] & op.Mask; SetLazyFast(LazyFlagOp.Sub, a, b, (a - b) & op.Mask, ref op); break; }
                case FastKind.Test: { SetLazyFast(LazyFlagOp.Logic, 0, 0, gpr[op.Dst] & gpr[op.Src] & op.Mask, ref op); break; }
                case FastKind.AddI: { ulong a = gpr[op.Dst] & op.Mask, b = op.Immediate, r = (a + b) & op.Mask; gpr[op.Dst] = r; SetLazyFast(LazyFlagOp.Add, a, b, r, ref op); break; }
                case FastKind.SubI: { ulong a = gpr[op.Dst] & op.Mask, b = op.Immediate, r = (a - b) & op.Mask; gpr[op.Dst] = r; SetLazyFast(LazyFlagOp.Sub, a, b, r, ref op); break; }
                case FastKind.AndI: { ulong r = gpr[op.Dst] & op.Immediate; gpr[op.Dst] = r; SetLazyFast(LazyFlagOp.Logic, 0, 0, r, ref op); break; }
                case FastKind.OrI: { ulong r = (gpr[op.Dst] | op.Immediate) & op.Mask; gpr[op.Dst] = r; SetLazyFast(LazyFlagOp.Logic, 0, 0, r, ref op); break; }
                case FastKind.XorI: { ulong r = (gpr[op.Dst] ^ op.Immediate) & op.Mask; gpr[op.Dst] = r; SetLazyFast(LazyFlagOp.Logic, 0, 0, r, ref op); break; }
                case FastKind.CmpI: { ulong a = gpr[op.Dst] & op.Mask, b = op.Immediate; SetLazyFast(LazyFlagOp.Sub, a, b, (a - b) & op.Mask, ref op); break; }
                case FastKind.TestI: { SetLazyFast(LazyFlagOp.Logic, 0, 0, gpr[op.Dst] & op.Immediate, ref op); break; }
                case FastKind.Inc:
                case FastKind.Dec:
                {
                    // CF survives INC/DEC; after another INC/DEC it is already in _flagsCarryIn.
                    if (_lazyOp is not (LazyFlagOp.Inc or LazyFlagOp.Dec)) _flagsCarryIn = GetCF();
                    ulong a = gpr[op.Dst] & op.Mask;
                    bool inc = op.Kind == FastKind.Inc;
                    ulong r = (inc ? a + 1 : a - 1) & op.Mask;
                    gpr[op.Dst] = r;
                    SetLazyFast(inc ? LazyFlagOp.Inc : LazyFlagOp.Dec, a, 1, r, ref op);
                    break;
                }
                case FastKind.Lea:
                    gpr[op.Dst] = FastAddress(gpr, ref op) & op.Mask;
                    break;
                case FastKind.AluRR: gpr[op.Dst] = AluWithFlags(op.Alu, gpr[op.Dst] & op.Mask, gpr[op.Src] & op.Mask, ref op); break;
                case FastKind.AluRI: gpr[op.Dst] = AluWithFlags(op.Alu, gpr[op.Dst] & op.Mask, op.Immediate, ref op); break;
                case FastKind.AluLoad:
                {
                    ulong address = FastAddress(gpr, ref op);
                    if (!IsCanonical(address)) goto default;
                    MarkFaultPoint(op.Ip, chained + i);
                    ulong b = ReadMemory(address, op.Size);
                    ulong r = AluWithFlags(op.Alu, gpr[op.Dst] & op.Mask, b, ref op);
                    if (op.Alu is not (AluOperation.Cmp or AluOperation.Test)) gpr[op.Dst] = r;
                    break;
                }
                case FastKind.AluMem:
                {
                    ulong address = FastAddress(gpr, ref op);
                    if (!IsCanonical(address)) goto default;
                    MarkFaultPoint(op.Ip, chained + i);
                    ulong a = ReadMemory(address, op.Size);
                    ulong b = op.Src == MicroOp.NoRegister ? op.Immediate : gpr[op.Src] & op.Mask;
                    if (op.Alu is AluOperation.Cmp or AluOperation.Test)
                    {
                        AluWithFlags(op.Alu, a, b, ref op);
                        break;
                    }
                    // The store may fault: flags change only once it has been done.
                    bool carry = op.Alu is AluOperation.Adc or AluOperation.Sbb && GetCF();
                    ulong r = AluValue(op.Alu, a, b, carry) & op.Mask;
                    WriteMemory(address, op.Size, r);
                    SetAluFlags(op.Alu, a, b, r, carry, ref op);
                    if (!block.Valid)
                    {
                        Rip = op.NextIp;
                        status = ExecutionStatus.FellThrough;
                        return i + 1;
                    }
                    break;
                }
                case FastKind.AddPure: gpr[op.Dst] = (gpr[op.Dst] + gpr[op.Src]) & op.Mask; break;
                case FastKind.SubPure: gpr[op.Dst] = (gpr[op.Dst] - gpr[op.Src]) & op.Mask; break;
                case FastKind.AndPure: gpr[op.Dst] = gpr[op.Dst] & gpr[op.Src] & op.Mask; break;
                case FastKind.OrPure: gpr[op.Dst] = (gpr[op.Dst] | gpr[op.Src]) & op.Mask; break;
                case FastKind.XorPure: gpr[op.Dst] = (gpr[op.Dst] ^ gpr[op.Src]) & op.Mask; break;
                case FastKind.AddIPure: gpr[op.Dst] = (gpr[op.Dst] + op.Immediate) & op.Mask; break;
                case FastKind.SubIPure: gpr[op.Dst] = (gpr[op.Dst] - op.Immediate) & op.Mask; break;
                case FastKind.AndIPure: gpr[op.Dst] = gpr[op.Dst] & op.Immediate; break;
                case FastKind.OrIPure: gpr[op.Dst] = (gpr[op.Dst] | op.Immediate) & op.Mask; break;
                case FastKind.XorIPure: gpr[op.Dst] = (gpr[op.Dst] ^ op.Immediate) & op.Mask; break;
                case FastKind.IncPure: gpr[op.Dst] = (gpr[op.Dst] + 1) & op.Mask; break;
                case FastKind.DecPure: gpr[op.Dst] = (gpr[op.Dst] - 1) & op.Mask; break;
                case FastKind.ShlIPure: gpr[op.Dst] = (gpr[op.Dst] << (int)op.Immediate) & op.Mask; break;
                case FastKind.ShrIPure: gpr[op.Dst] = (gpr[op.Dst] & op.Mask) >> (int)op.Immediate; break;
                case FastKind.SarIPure:
                {
                    int unused = 64 - op.Size * 8;
                    gpr[op.Dst] = (ulong)(((long)(gpr[op.Dst] << unused) >> unused) >> (int)op.Immediate) & op.Mask;
                    break;
                }
                case FastKind.RolIPure: gpr[op.Dst] = RotateLeftValue(gpr[op.Dst], (int)op.Immediate, ref op); break;
                case FastKind.RorIPure: gpr[op.Dst] = RotateRightValue(gpr[op.Dst], (int)op.Immediate, ref op); break;
                case FastKind.Not: gpr[op.Dst] = ~gpr[op.Dst] & op.Mask; break;
                case FastKind.Neg: { ulong a = gpr[op.Dst] & op.Mask, r = (0 - a) & op.Mask; gpr[op.Dst] = r; SetLazyFast(LazyFlagOp.Sub, 0, a, r, ref op); break; }
                case FastKind.ShlI: ShiftLeft(ref gpr[op.Dst], (int)op.Immediate, ref op); break;
                case FastKind.ShrI: ShiftRight(ref gpr[op.Dst], (int)op.Immediate, ref op); break;
                case FastKind.SarI: ShiftArithmetic(ref gpr[op.Dst], (int)op.Immediate, ref op); break;
                case FastKind.RolI: RotateLeft(ref gpr[op.Dst], (int)op.Immediate, ref op); break;
                case FastKind.RorI: RotateRight(ref gpr[op.Dst], (int)op.Immediate, ref op); break;
                case FastKind.ShlCl:
                case FastKind.ShrCl:
                case FastKind.SarCl:
                case FastKind.RolCl:
                case FastKind.RorCl:
                {
                    int count = (int)gpr[RcxIndex] & (op.Size == 8 ? 63 : 31);
                    ref ulong target = ref gpr[op.Dst];
                    // A zero count changes no flags; the 32-bit destination is still written (upper half cleared).
                    if (count == 0) { target &= op.Mask; break; }
                    switch (op.Kind)
                    {
                        case FastKind.ShlCl: ShiftLeft(ref target, count, ref op); break;
                        case FastKind.ShrCl: ShiftRight(ref target, count, ref op); break;
                        case FastKind.SarCl: ShiftArithmetic(ref target, count, ref op); break;
                        case FastKind.RolCl: RotateLeft(ref target, count, ref op); break;
                        default: RotateRight(ref target, count, ref op); break;
                    }
                    break;
                }
                case FastKind.Movzx: gpr[op.Dst] = (gpr[op.Src] << op.ExtendShift) >> op.ExtendShift; break;
                case FastKind.Movsx: gpr[op.Dst] = (ulong)((long)(gpr[op.Src] << op.ExtendShift) >> op.ExtendShift) & op.Mask; break;
                case FastKind.MovzxLoad:
                case FastKind.MovsxLoad:
                {
                    ulong address = FastAddress(gpr, ref op);
                    if (!IsCanonical(address)) goto default;
                    MarkFaultPoint(op.Ip, chained + i);
                    ulong v = ReadMemory(address, op.SourceSize);
                    gpr[op.Dst] = op.Kind == FastKind.MovzxLoad ? v : (ulong)((long)(v << op.ExtendShift) >> op.ExtendShift) & op.Mask;
                    break;
                }
                case FastKind.Imul: gpr[op.Dst] = MultiplyTruncated(gpr[op.Dst], gpr[op.Src], op.Size); break;
                case FastKind.ImulI: gpr[op.Dst] = MultiplyTruncated(gpr[op.Src], op.Immediate, op.Size); break;
                case FastKind.Setcc: gpr[op.Dst] = (gpr[op.Dst] & ~0xFFUL) | (ConditionOutOfLine(op.Condition) ? 1UL : 0); break;
                case FastKind.Cmov:
                {
                    ref ulong target = ref gpr[op.Dst];
                    // A 32-bit destination is zero-extended whether or not the condition holds.
                    target = (ConditionOutOfLine(op.Condition) ? gpr[op.Src] : target) & op.Mask;
                    break;
                }
                case FastKind.CmovLoad:
                {
                    ulong address = FastAddress(gpr, ref op);
                    if (!IsCanonical(address)) goto default;
                    MarkFaultPoint(op.Ip, chained + i);
                    // The source is read (and may fault) whatever the condition.
                    ulong v = ReadMemory(address, op.Size);
                    ref ulong target = ref gpr[op.Dst];
                    target = (ConditionOutOfLine(op.Condition) ? v : target) & op.Mask;
                    break;
                }
                case FastKind.Bswap:
                {
                    ref ulong target = ref gpr[op.Dst];
                    target = op.Size == 8 ? BinaryReverse(target) : BinaryReverse((uint)target);
                    break;
                }
                case FastKind.Jcc:
                    i++;
                    if (Condition(op.Condition))
                    {
                        Rip = op.Immediate;
                        status = ExecutionStatus.Branched;
                    }
                    else
                    {
                        Rip = op.NextIp;
                        status = ExecutionStatus.FellThrough;
                    }
                    goto BlockEnded;
                case FastKind.Jmp:
                    Rip = op.Immediate;
                    status = ExecutionStatus.Branched;
                    i++;
                    goto BlockEnded;
                case FastKind.Call:
                    MarkFaultPoint(op.Ip, chained + i);
                    Push(op.NextIp);
                    Rip = op.Immediate;
                    status = ExecutionStatus.Branched;
                    i++;
                    goto BlockEnded;
                case FastKind.Ret:
                    MarkFaultPoint(op.Ip, chained + i);
                    Rip = Pop();
                    status = ExecutionStatus.Branched;
                    i++;
                    goto BlockEnded;
                case FastKind.Push:
                {
                    MarkFaultPoint(op.Ip, chained + i);
                    ulong value = gpr[op.Src];
                    ulong rsp = gpr[RspIndex] - 8;
                    WriteMemory(rsp, 8, value);
                    gpr[RspIndex] = rsp;
                    if (!block.Valid)
                    {
                        Rip = op.NextIp;
                        status = ExecutionStatus.FellThrough;
                        return i + 1;
                    }
                    break;
                }
                case FastKind.Pop:
                {
                    MarkFaultPoint(op.Ip, chained + i);
                    ulong value = ReadMemory(gpr[RspIndex], 8);
                    gpr[RspIndex] += 8;
                    gpr[op.Dst] = value;
                    break;
                }
                default:
                {
                    MarkFaultPoint(op.Ip, chained + i);
                    _currentInstructionLength = op.Length;
                    Rip = op.NextIp;
                    var s = ExecuteInstruction(ref block.Instructions[i], op.Size);
                    if (s == ExecutionStatus.Exit)
                    {
                        status = s;
                        return i;
                    }
                    if (s != ExecutionStatus.Continue || !block.Valid)
                    {
                        status = s == ExecutionStatus.Continue ? ExecutionStatus.FellThrough : s;
                        return i + 1;
                    }
                    break;
                }
            }
            i++;
        }
        Rip = ops[i - 1].NextIp;
        status = ExecutionStatus.Continue;
        return i;

    faulted:
        // A load or store faulted without unwinding; RIP is set back to the instruction when the fault is resolved.
        status = ExecutionStatus.Faulted;
        return i;

    BlockEnded:
        // The branch was the block's last instruction (control transfers end blocks), so the whole block retired.
        DecodedBlock? next = status == ExecutionStatus.Branched ? block.NextTaken : block.NextFallthrough;
        if (next is null || next.LinearStart != Rip || !next.Valid || CancelRequested || _codePagesWritten || YieldRequested
            || budget - chained - i < next.Ops.Length || !FetchMappingMatches(next))
            return i;
        chained += i;
        block = next;
        ops = next.Ops;
        run = ops;
        i = 0;
        goto NextInstruction;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private DecodedBlock FindBlock(DecodedBlock? previous, bool taken)
    {
        if (previous is not null)
        {
            DecodedBlock? next = taken ? previous.NextTaken : previous.NextFallthrough;
            if (next is not null && next.LinearStart == Rip && next.Valid && FetchMappingMatches(next)) return next;
        }
        var found = LookupBlock();
        if (previous is not null)
        {
            if (taken) previous.NextTaken = found;
            else previous.NextFallthrough = found;
        }
        return found;
    }

    /// <summary>Whether the fetch TLB still maps the block's linear page to the physical page it was decoded from.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool FetchMappingMatches(DecodedBlock block)
    {
        var t = _tlb.Fetch;
        int i = SoftwareTlb.Index(Rip);
        return t.Tags[i] == SoftwareTlb.Tag(Rip, Cpl == 3) && t.PhysicalPages[i] == block.PhysicalPage;
    }

    private DecodedBlock LookupBlock()
    {
        ulong rip = Rip;
        byte* page = TranslateFetch(rip, out ulong physicalPage);
        if (_blocks.TryGetValue(rip, out var block) && block.PhysicalPage == physicalPage && block.Valid) return block;
        block = DecodeBlock(rip, page, physicalPage);
        _blocks[rip] = block;
        if (!_blocksByPage.TryGetValue(physicalPage, out var list)) _blocksByPage[physicalPage] = list = [];
        list.Add(block);
        return block;
    }

    private byte* TranslateFetch(ulong linear, out ulong physicalPage)
    {
        bool user = Cpl == 3;
        var t = _tlb.For(AccessKind.Fetch);
        int i = SoftwareTlb.Index(linear);
        if (t.Tags[i] == SoftwareTlb.Tag(linear, user))
        {
            physicalPage = t.PhysicalPages[i];
            return (byte*)t.Hosts[i];
        }
        _currentInstructionIp = linear;
        byte* page = TranslateSlow(linear, AccessKind.Fetch, user, out physicalPage);
        // Executing from a hole: there is no memory to fetch from. Real hardware would read all ones (an invalid opcode
        // stream here); the engine reports it as #PF-free #UD-like garbage by decoding 0xFF bytes.
        return page == null ? FillerPage : page;
    }

    internal byte FetchByteSlow(ulong linear)
    {
        byte* page = TranslateSlow(linear, AccessKind.Fetch, Cpl == 3, out _);
        return page == null ? (byte)0xFF : page[linear & 0xFFF];
    }

    private static readonly byte* FillerPage = CreateFillerPage();

    private static byte* CreateFillerPage()
    {
        byte* page = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(4096, 4096);
        new Span<byte>(page, 4096).Fill(0xFF);
        return page;
    }

    private DecodedBlock DecodeBlock(ulong rip, byte* page, ulong physicalPage)
    {
        // The page holds code again (a write unmarks it): writes must reach the slow path, which invalidates blocks,
        // so no write mapping of it may stay in the TLB.
        Memory.CodePages.MarkCode(physicalPage);
        _tlb.FlushWritesTo(physicalPage);
        _codeReader ??= new GuestCodeReader(this);
        _decoder ??= Decoder.Create(64, _codeReader, DecoderOptions.None);
        var instructions = new List<Instruction>(16);
        ulong ip = rip;
        while (instructions.Count < DecodedBlock.MaxInstructions)
        {
            bool first = instructions.Count == 0;
            _codeReader.Reset(page, ip, crossPages: first);
            _decoder.IP = ip;
            _decoder.Decode(out Instruction ins);
            if (_decoder.LastError == DecoderError.NoMoreBytes && !first) break;
            instructions.Add(ins);
            if (EndsBlock(in ins)) break;
            ip = ins.NextIP;
            if ((ip & ~0xFFFUL) != (rip & ~0xFFFUL)) break;
        }
        var array = instructions.ToArray();
        var exact = new MicroOp[array.Length];
        for (int i = 0; i < array.Length; i++) exact[i] = Compile(in array[i]);
        return new DecodedBlock(rip, physicalPage, array, ElideDeadFlags(exact), exact);
    }

    private static bool EndsBlock(in Instruction ins) =>
        ins.FlowControl != FlowControl.Next || ins.Code == Code.INVALID;

    /// <summary>Size in bytes of the first operand (the destination for most instructions).</summary>
    private static int OperandSize(in Instruction ins)
    {
        if (ins.OpCount == 0) return 8;
        return ins.GetOpKind(0) switch
        {
            OpKind.Register => ins.GetOpRegister(0).GetSize(),
            OpKind.Memory => Math.Max(1, ins.MemorySize.GetSize()),
            OpKind.Immediate8 => 1,
            OpKind.Immediate16 => 2,
            _ => 8,
        };
    }

    // Set with every enqueue: one volatile read per block instead of a look into the queue.
    private volatile bool _codePagesWritten;

    private void OnCodePageWritten(ulong page)
    {
        _writtenCodePages.Enqueue(page);
        _codePagesWritten = true;
        // Mark now so a running block notices at its next instruction boundary; the dictionaries are purged by the
        // owning thread.
        lock (_blocksByPage)
        {
            if (_blocksByPage.TryGetValue(page, out var list))
                foreach (var b in list) b.Valid = false;
        }
    }

    private void PurgeWrittenCodePages()
    {
        _codePagesWritten = false;
        while (_writtenCodePages.TryDequeue(out ulong page))
        {
            lock (_blocksByPage)
            {
                if (!_blocksByPage.Remove(page, out var list)) continue;
                foreach (var b in list)
                    if (_blocks.TryGetValue(b.LinearStart, out var current) && ReferenceEquals(current, b)) _blocks.Remove(b.LinearStart);
            }
        }
    }

    /// <summary>Drops every decoded block (used when the guest's address space changes wholesale).</summary>
    internal void FlushDecodedBlocks()
    {
        lock (_blocksByPage)
        {
            foreach (var list in _blocksByPage.Values)
                foreach (var b in list) b.Valid = false;
            _blocksByPage.Clear();
            _blocks.Clear();
        }
    }

    private bool _exitPending;

    /// <summary>Starts a VM exit for the current instruction; the caller fills the rest of <see cref="Exit"/>.</summary>
    internal void BeginExit(ExitReason reason, ulong qualification)
    {
        // Field by field rather than `Exit = default` and then the fields: the run loop reads each field back at once, and
        // a load that the processor must assemble from a wide zeroing store and a later narrow store cannot be forwarded.
        bool vectoring = _deliveringEvent.IsValid;
        Exit.Reason = reason;
        Exit.EntryFailure = false;
        Exit.Qualification = qualification;
        Exit.GuestLinearAddress = 0;
        Exit.GuestPhysicalAddress = 0;
        Exit.InstructionLength = 0;
        Exit.InstructionInformation = 0;
        Exit.InterruptionInformation = 0;
        Exit.InterruptionErrorCode = 0;
        Exit.IdtVectoringInformation = vectoring ? _deliveringEvent.Raw : 0;
        Exit.IdtVectoringErrorCode = vectoring ? _deliveringErrorCode : 0;
        _exitPending = true;
    }

    /// <summary>An exit caused by the current instruction: fault-like, with the instruction's length.</summary>
    private ExecutionStatus InstructionExit(ExitReason reason, ulong qualification = 0)
    {
        RecordInstructionExit(reason, qualification, _currentInstructionLength);
        return ExecutionStatus.Exit;
    }

    /// <summary>The exit of an instruction of <paramref name="length"/> bytes (the block loop passes its micro-op's length).</summary>
    private void RecordInstructionExit(ExitReason reason, ulong qualification, int length)
    {
        BeginExit(reason, qualification);
        _exitPending = false;
        Exit.InstructionLength = length;
    }
}
