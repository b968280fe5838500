using Dispatch.Devices;
using Dispatch.Guests;
using Dispatch.Memory;

namespace Dispatch.Cli.Flat;

/// <summary>
/// <c>dispatch run --flat image</c>: the image is loaded at guest-physical 0x100000 and started at its first byte in long
/// mode at CPL 0, with the requested memory identity-mapped, x87/SSE enabled in CR0/CR4, COM1 on standard output, and HLT
/// ending the run with status 0. Any guest exception or other exit ends it with status 1 and a message.
/// </summary>
public static class FlatImageRunner
{
    public const int MaxMemoryMiB = 64 * 1024;

    public static int Run(RunCommandOptions options, TextWriter output, TextWriter error)
    {
        var file = options.FlatImage!;
        if (options.MemoryMiB < 2 || options.MemoryMiB > MaxMemoryMiB)
        {
            error.WriteLine($"dispatch: --memory must be between 2 and {MaxMemoryMiB} MiB.");
            return 2;
        }
        if (!file.Exists)
        {
            error.WriteLine($"dispatch: {file.FullName}: no such file.");
            return 2;
        }
        ulong memorySize = (ulong)options.MemoryMiB << 20;
        ulong load = LongModeGuest.DefaultLoadAddress;
        if (file.Length == 0 || (ulong)file.Length > memorySize - load)
        {
            error.WriteLine($"dispatch: {file.Name}: {file.Length} bytes does not fit between 0x{load:X} and the end of " +
                $"{options.MemoryMiB} MiB of guest memory (use --memory).");
            return 2;
        }
        using var vm = new VirtualMachine(memorySize);
        vm.Memory.Write(new GuestPhysicalAddress(load), File.ReadAllBytes(file.FullName));
        var vcpu = vm.CreateVCpu();
        LongModeGuest.Setup(vcpu, load);

        using var stdout = Console.OpenStandardOutput();
        var serial = new SerialPort(output == Console.Out ? stdout : new TextWriterStream(output));
        var handlers = new FlatImageHandlers(serial);
        var result = vcpu.Run(ref handlers, new RunOptions { MeasureLatency = options.Stats, MaxInstructions = options.MaxInstructions ?? long.MaxValue });
        serial.Output.Flush();
        if (options.Stats) ExitTable.Write(error, vcpu, withLatency: true);
        if (handlers.Failure is not null)
        {
            error.WriteLine($"dispatch: {handlers.Failure}");
            return 1;
        }
        if (result.Outcome != RunOutcome.Stopped)
        {
            error.WriteLine($"dispatch: the guest stopped: {result}");
            return 1;
        }
        return 0;
    }
}
