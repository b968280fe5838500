using System.Diagnostics;
using Dispatch.Cli;

namespace Dispatch.EndToEnd.Tests.Flat;

/// <summary>
/// `dispatch run --flat`: an image compiled from C with gcc -ffreestanding -nostdlib and objcopy -O binary runs unchanged.
/// </summary>
public sealed class FlatImageTests
{
    [Fact]
    public void GccFreestandingImage_PrintsThroughTheSerialPort_AndHaltsWithStatusZero()
    {
        string image = BuildImage("hello_serial.c");
        var output = new StringWriter();
        var error = new StringWriter();
        int status = RunCommand.Execute(new RunCommandOptions(new FileInfo(image), 64, false, null), output, error);
        Assert.Equal("", error.ToString());
        Assert.Equal(0, status);
        Assert.Equal("flat image says hello\nsum of squares 1..1000 = 333833500\n", output.ToString());
    }

    [Fact]
    public void ImageThatFaults_EndsWithStatusOneAndNamesTheException()
    {
        string image = Path.Combine(Path.GetTempPath(), $"dispatch-ud2-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(image, [0x0F, 0x0B]); // ud2
        try
        {
            var error = new StringWriter();
            int status = RunCommand.Execute(new RunCommandOptions(new FileInfo(image), 64, false, null), new StringWriter(), error);
            Assert.Equal(1, status);
            Assert.Contains("vector 6 (#UD) at RIP 0x100000", error.ToString());
        }
        finally
        {
            File.Delete(image);
        }
    }

    private static string BuildImage(string source)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"dispatch-flat-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        string elf = Path.Combine(dir, "image.elf"), bin = Path.Combine(dir, "image.bin");
        Run("gcc", $"-O2 -ffreestanding -nostdlib -fno-pic -no-pie -mno-red-zone -fno-asynchronous-unwind-tables " +
            $"-Wl,-Ttext=0x100000 -Wl,--build-id=none -Wl,-e,_start -o {elf} {Path.Combine(AppContext.BaseDirectory, "Flat", "Programs", source)}");
        Run("objcopy", $"-O binary -j .text -j .rodata {elf} {bin}");
        return bin;
    }

    private static void Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        string stderr = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), $"{file} did not finish");
        Assert.True(process.ExitCode == 0, $"{file} {arguments} failed: {stderr}");
    }
}
