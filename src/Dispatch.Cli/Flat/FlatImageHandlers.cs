using Dispatch.Devices;
using Dispatch.Vmx;

namespace Dispatch.Cli.Flat;

/// <summary>
/// The VMM for flat images: COM1 goes to standard output, other ports read as all ones, CPUID answers from the engine's
/// model, HLT ends the run, and anything else (a guest exception, an unexpected exit) stops it with a report.
/// </summary>
public sealed partial class FlatImageHandlers(SerialPort serial)
{
    /// <summary>Set when the run stopped for something other than HLT.</summary>
    public string? Failure { get; private set; }

    [ExitHandler(ExitReason.IoInstruction)]
    private void Io(ref ExitContext context, IoQualification io)
    {
        if (io.IsString)
        {
            Failure = $"string I/O ({io}) at RIP 0x{context.GuestRip:X} is not supported by this VMM";
            return;
        }
        ulong mask = io.Size == 4 ? 0xFFFF_FFFFUL : (1UL << (io.Size * 8)) - 1;
        if (io.IsOut)
        {
            if (serial.Claims(io.Port)) serial.Write(io.Port, (byte)context.Registers.Rax);
            return;
        }
        ulong value = serial.Claims(io.Port) ? serial.Read(io.Port) : mask;
        context.Registers.Rax = (context.Registers.Rax & ~mask) | (value & mask);
        if (io.Size == 4) context.Registers.Rax &= 0xFFFF_FFFF;
    }

    [ExitHandler(ExitReason.Cpuid)]
    private static void Cpuid(ref ExitContext context) => CpuidModel.Default.Query(context.VCpu).WriteTo(ref context.Registers);

    /// <summary>XSETBV always exits: apply the new XCR0 or raise the #GP(0) the instruction would.</summary>
    [ExitHandler(ExitReason.Xsetbv)]
    private static ExitAction Xsetbv(ref ExitContext context)
    {
        ref var r = ref context.Registers;
        ulong value = ((r.Rdx & 0xFFFF_FFFF) << 32) | (r.Rax & 0xFFFF_FFFF);
        return context.VCpu.TrySetXcr((uint)r.Rcx, value)
            ? ExitAction.Advance
            : ExitAction.InjectException(ExceptionVector.GeneralProtection, 0);
    }

    [ExitHandler(ExitReason.Hlt)]
    private static ExitAction Halt() => ExitAction.Stop;

    [ExitHandler(ExitReason.ExceptionOrNmi)]
    private ExitAction Exception(ref ExitContext context, InterruptionInfo info)
    {
        Failure = $"guest exception: vector {info.Vector} ({ExceptionName(info.Vector)}) at RIP 0x{context.GuestRip:X}" +
            (info.HasErrorCode ? $", error code 0x{context.InterruptionErrorCode:X}" : "") +
            (info.Vector == ExceptionVector.PageFault ? $", address 0x{context.ExitQualification:X}" : "");
        return ExitAction.Stop;
    }

    [ExitHandler(ExitReason.TripleFault)]
    private ExitAction TripleFault(ref ExitContext context)
    {
        Failure = $"triple fault at RIP 0x{context.GuestRip:X}";
        return ExitAction.Stop;
    }

    [DefaultExitHandler]
    private ExitAction Other(ref ExitContext context)
    {
        Failure = $"unexpected exit {context.ExitReason} at RIP 0x{context.GuestRip:X}";
        return ExitAction.Stop;
    }

    private static string ExceptionName(byte vector) => vector switch
    {
        0 => "#DE", 1 => "#DB", 3 => "#BP", 4 => "#OF", 5 => "#BR", 6 => "#UD", 7 => "#NM", 8 => "#DF", 10 => "#TS",
        11 => "#NP", 12 => "#SS", 13 => "#GP", 14 => "#PF", 16 => "#MF", 17 => "#AC", 18 => "#MC", 19 => "#XM", _ => "?",
    };
}
