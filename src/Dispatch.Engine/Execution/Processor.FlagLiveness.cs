namespace Dispatch.Execution;

/// <summary>
/// Dead-flag elimination within a decoded block. Most flags an instruction writes are overwritten by a later
/// instruction before anything reads them; such an instruction can skip recording them (for a rotate, that spares
/// materialising all the other flags). Walking the block backwards, a status flag is live when an instruction after
/// this point may read it before it is overwritten.
/// <para>Anything that can observe RFLAGS counts as reading all of them: conditions, general handlers, and every
/// instruction that touches memory (a fault delivers an exception or exits with RFLAGS as they are). The end of the
/// block reads all flags too, and a block cut short by the instruction budget runs its exact ops instead (see
/// <see cref="DecodedBlock.ExactOps"/>), so the flags are exact wherever execution can stop.</para>
/// </summary>
internal sealed partial class Processor
{
    private const int FlagCf = 1, FlagPf = 2, FlagAf = 4, FlagZf = 8, FlagSf = 16, FlagOf = 32;
    private const int AllStatusFlags = FlagCf | FlagPf | FlagAf | FlagZf | FlagSf | FlagOf;

    /// <summary>A copy of <paramref name="exact"/> in which instructions whose flags are all dead compute only their value.</summary>
    private static MicroOp[] ElideDeadFlags(MicroOp[] exact)
    {
        var ops = (MicroOp[])exact.Clone();
        int live = AllStatusFlags;
        for (int i = ops.Length - 1; i >= 0; i--)
        {
            ref MicroOp op = ref ops[i];
            var (writes, reads) = FlagEffects(op.Kind);
            if (writes != 0 && (writes & live) == 0) op.Kind = WithoutFlags(op.Kind);
            live = (live & ~writes) | reads;
        }
        return ops;
    }

    /// <summary>Status flags a kind always writes, and those it reads (or may expose).</summary>
    private static (int Writes, int Reads) FlagEffects(FastKind kind) => kind switch
    {
        FastKind.Nop or FastKind.MovRR or FastKind.MovRI or FastKind.Lea or FastKind.Not or FastKind.Movzx
            or FastKind.Movsx or FastKind.Bswap => (0, 0),
        FastKind.Add or FastKind.Sub or FastKind.And or FastKind.Or or FastKind.Xor or FastKind.Cmp or FastKind.Test
            or FastKind.AddI or FastKind.SubI or FastKind.AndI or FastKind.OrI or FastKind.XorI or FastKind.CmpI
            or FastKind.TestI or FastKind.Neg or FastKind.Imul or FastKind.ImulI
            or FastKind.ShlI or FastKind.ShrI or FastKind.SarI => (AllStatusFlags, 0),
        FastKind.AluRR or FastKind.AluRI => (AllStatusFlags, FlagCf),
        FastKind.Inc or FastKind.Dec => (AllStatusFlags & ~FlagCf, 0),
        FastKind.RolI or FastKind.RorI => (FlagCf | FlagOf, 0),
        // Shifts by CL write nothing when the count is 0; memory accesses, conditions and general handlers read all.
        _ => (0, AllStatusFlags),
    };

    private static FastKind WithoutFlags(FastKind kind) => kind switch
    {
        FastKind.Add => FastKind.AddPure,
        FastKind.Sub => FastKind.SubPure,
        FastKind.And => FastKind.AndPure,
        FastKind.Or => FastKind.OrPure,
        FastKind.Xor => FastKind.XorPure,
        FastKind.AddI => FastKind.AddIPure,
        FastKind.SubI => FastKind.SubIPure,
        FastKind.AndI => FastKind.AndIPure,
        FastKind.OrI => FastKind.OrIPure,
        FastKind.XorI => FastKind.XorIPure,
        FastKind.Cmp or FastKind.Test or FastKind.CmpI or FastKind.TestI => FastKind.Nop,
        FastKind.Inc => FastKind.IncPure,
        FastKind.Dec => FastKind.DecPure,
        FastKind.ShlI => FastKind.ShlIPure,
        FastKind.ShrI => FastKind.ShrIPure,
        FastKind.SarI => FastKind.SarIPure,
        FastKind.RolI => FastKind.RolIPure,
        FastKind.RorI => FastKind.RorIPure,
        _ => kind,
    };
}
