namespace Dispatch.Linux.Signals;

/// <summary>
/// Linux x86-64 signal numbers, rt_sigaction flags and siginfo codes (include/uapi/asm-generic/signal.h,
/// arch/x86/include/uapi/asm/signal.h, include/uapi/asm-generic/siginfo.h).
/// </summary>
internal static class Signal
{
    public const int Ill = 4, Trap = 5, Abrt = 6, Bus = 7, Fpe = 8, Kill = 9, Segv = 11, Alarm = 14, Child = 17, Continue = 18, Stop = 19,
        Urgent = 23, WindowChange = 28;

    /// <summary>The highest signal number (SIGRTMAX).</summary>
    public const int Max = 64;

    // sa_flags.
    public const ulong SaSigInfo = 0x4, SaOnStack = 0x0800_0000, SaRestorer = 0x0400_0000, SaNoDefer = 0x4000_0000,
        SaResetHand = 0x8000_0000;

    // sa_handler values that are not addresses.
    public const ulong Default = 0, Ignore = 1;

    // si_code: who sent it (SI_USER from kill, SI_TKILL from tgkill/tkill, SI_KERNEL for faults without a finer code).
    public const int SiUser = 0, SiKernel = 0x80, SiTkill = -6;

    // si_code of fault signals.
    public const int SegvMapErr = 1, SegvAccErr = 2, IllIllegalOpcode = 2, FpeIntDiv = 1, FpeFltDiv = 3, FpeFltOvf = 4,
        FpeFltUnd = 5, FpeFltRes = 6, FpeFltInv = 7, BusAdrAln = 1;

    // sigaltstack ss_flags.
    public const int SsOnStack = 1, SsDisable = 2;

    /// <summary>The bit of <paramref name="signal"/> in a sigset_t.</summary>
    public static ulong Bit(int signal) => 1UL << (signal - 1);

    /// <summary>SIGKILL and SIGSTOP can be neither caught, blocked nor ignored.</summary>
    public static readonly ulong Unblockable = Bit(Kill) | Bit(Stop);

    /// <summary>Signals whose default action is to do nothing (SIGCHLD, SIGCONT, SIGURG, SIGWINCH; SIGSTOP without job control).</summary>
    public static bool IgnoredByDefault(int signal) => signal is Child or Continue or Urgent or WindowChange or Stop;
}
