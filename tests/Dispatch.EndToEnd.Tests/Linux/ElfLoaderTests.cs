namespace Dispatch.EndToEnd.Tests.Linux;

/// <summary>Files the loader refuses: each gets a clear message and exit status 126, and nothing runs.</summary>
public sealed class ElfLoaderTests
{
    private static ProgramRun Reject(string name, byte[] contents)
    {
        var run = GuestProgram.RunGuest(GuestProgram.WriteFile(name, contents));
        Assert.Equal(126, run.ExitStatus);
        Assert.Empty(run.Stdout);
        return run;
    }

    private static byte[] ElfHeader(byte elfClass, ushort machine, ushort type = 2)
    {
        var h = new byte[64];
        h[0] = 0x7F; h[1] = (byte)'E'; h[2] = (byte)'L'; h[3] = (byte)'F';
        h[4] = elfClass; h[5] = 1; h[6] = 1;
        BitConverter.GetBytes(type).CopyTo(h, 16);
        BitConverter.GetBytes(machine).CopyTo(h, 18);
        return h;
    }

    [Fact]
    public void Truncated_executable_is_rejected()
    {
        var full = File.ReadAllBytes(GuestProgram.Build("syscalls.c", flags: GuestProgram.FreestandingFlags));
        Assert.Contains("truncated ELF header (40 of 64 bytes)", Reject("truncated-header", full[..40]).Diagnostics);
        Assert.Contains("truncated", Reject("truncated-body", full[..(full.Length / 3)]).Diagnostics);
    }

    [Fact]
    public void Thirty_two_bit_elf_is_rejected() =>
        Assert.Contains("32-bit ELF (ELFCLASS32) is not supported", Reject("elf32", ElfHeader(1, 3)).Diagnostics);

    [Fact]
    public void Other_machine_is_rejected() =>
        Assert.Contains("ELF machine 183 is not x86-64", Reject("aarch64", ElfHeader(2, 183)).Diagnostics);

    [Fact]
    public void Shared_object_type_other_than_executable_is_rejected() =>
        Assert.Contains("ELF type 1 is not an executable", Reject("relocatable", ElfHeader(2, 62, type: 1)).Diagnostics);

    [Fact]
    public void Dynamic_executable_is_rejected()
    {
        string program = GuestProgram.Build("float.c", flags: "-O2");
        var run = GuestProgram.RunGuest(program);
        Assert.Equal(126, run.ExitStatus);
        Assert.Contains("dynamically linked executable (interpreter /lib64/ld-linux-x86-64.so.2); only static executables are supported", run.Diagnostics);
    }

    [Fact]
    public void Not_an_elf_file_is_rejected() =>
        Assert.Contains("not an ELF file", Reject("script.sh", "#!/bin/sh\necho hi\n"u8.ToArray()).Diagnostics);

    [Fact]
    public void Missing_file_is_reported() =>
        Assert.Contains("no such file", GuestProgram.RunGuest("/nonexistent/program").Diagnostics);
}
