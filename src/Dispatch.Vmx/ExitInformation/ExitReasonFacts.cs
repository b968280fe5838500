namespace Dispatch.Vmx;

/// <summary>Properties of basic exit reasons that the SDM states per reason.</summary>
public static class ExitReasonFacts
{
    private static readonly bool[] s_instructionCaused = BuildInstructionCaused();

    /// <summary>
    /// Whether the exit is caused by executing an instruction and so saves VM_EXIT_INSTRUCTION_LEN (Intel SDM Vol. 3C,
    /// 28.2.5 "Information for VM Exits Due to Instruction Execution"): emulating the instruction means advancing RIP by it.
    /// Exceptions (including INT3/INTO exits), interrupts, windows, EPT events and entry failures are not.
    /// </summary>
    public static bool IsInstructionCaused(ExitReason reason) =>
        (uint)reason < (uint)s_instructionCaused.Length && s_instructionCaused[(int)reason];

    private static bool[] BuildInstructionCaused()
    {
        var table = new bool[128];
        ExitReason[] reasons =
        [
            ExitReason.Cpuid, ExitReason.Getsec, ExitReason.Hlt, ExitReason.Invd, ExitReason.Invlpg, ExitReason.Rdpmc,
            ExitReason.Rdtsc, ExitReason.Rsm, ExitReason.Vmcall, ExitReason.Vmclear, ExitReason.Vmlaunch, ExitReason.Vmptrld,
            ExitReason.Vmptrst, ExitReason.Vmread, ExitReason.Vmresume, ExitReason.Vmwrite, ExitReason.Vmxoff, ExitReason.Vmxon,
            ExitReason.CrAccess, ExitReason.MovDr, ExitReason.IoInstruction, ExitReason.Rdmsr, ExitReason.Wrmsr,
            ExitReason.Mwait, ExitReason.Monitor, ExitReason.Pause, ExitReason.GdtrIdtrAccess, ExitReason.LdtrTrAccess,
            ExitReason.Invept, ExitReason.Rdtscp, ExitReason.Invvpid, ExitReason.Wbinvd, ExitReason.Xsetbv, ExitReason.Rdrand,
            ExitReason.Invpcid, ExitReason.Vmfunc, ExitReason.Encls, ExitReason.Rdseed, ExitReason.Xsaves, ExitReason.Xrstors,
            ExitReason.Pconfig, ExitReason.Umwait, ExitReason.Tpause, ExitReason.Loadiwkey, ExitReason.Enclv,
            ExitReason.Seamcall, ExitReason.Tdcall, ExitReason.Rdmsrlist, ExitReason.Wrmsrlist,
        ];
        foreach (var r in reasons) table[(int)r] = true;
        return table;
    }
}
