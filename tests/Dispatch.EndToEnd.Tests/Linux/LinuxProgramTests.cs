using Dispatch.Cli;
using Xunit.Abstractions;

namespace Dispatch.EndToEnd.Tests.Linux;

/// <summary>
/// Static x86-64 programs run natively and under <c>dispatch run</c>: stdout, stderr and exit status must match byte for byte.
/// </summary>
public sealed class LinuxProgramTests
{
    private static void AssertSame(ProgramRun native, ProgramRun guest)
    {
        Assert.Equal(native.StdoutText, guest.StdoutText);
        Assert.Equal(native.StderrText, guest.StderrText);
        Assert.Equal(native.Stdout, guest.Stdout);
        Assert.Equal(native.Stderr, guest.Stderr);
        Assert.Equal(native.ExitStatus, guest.ExitStatus);
    }

    [Fact]
    public void Freestanding_program_sees_the_linux_initial_stack_and_system_calls_as_natively()
    {
        string program = GuestProgram.Build("syscalls.c", flags: GuestProgram.FreestandingFlags);
        string data = GuestProgram.WriteFile("syscalls-data.txt", "file contents: 0123456789\n");
        var native = GuestProgram.RunNative(program, data);
        var guest = GuestProgram.RunGuest(program, data);
        Assert.Equal(42, native.ExitStatus);
        Assert.Equal("", guest.Diagnostics);
        AssertSame(native, guest);
    }

    [Fact]
    public void Null_pointer_store_ends_the_process_with_sigsegv_status_and_names_the_instruction()
    {
        string program = GuestProgram.Build("segv.c", flags: GuestProgram.FreestandingFlags);
        var native = GuestProgram.RunNative(program);
        var guest = GuestProgram.RunGuest(program);
        AssertSame(native, guest);
        Assert.Equal(139, guest.ExitStatus);
        Assert.Contains("segmentation fault: write at 0x0 (not mapped)", guest.Diagnostics);
        Assert.Contains("mov dword [", guest.Diagnostics);
    }

    [Fact]
    public void Glibc_strings_printf_qsort_malloc_setjmp_files_and_exit_status() =>
        Compare("gcc", "libc_basics.c", "first arg", "second", GuestProgram.WriteFile("lines.txt", "one\ntwo\nthree\n"));

    [Fact]
    public void Glibc_printf_of_floating_point() => Compare("gcc", "float.c");

    [Fact]
    public void Glibc_rounding_modes_exception_flags_long_double_libm_qsort_and_string_functions()
    {
        // Found FNSTSW AX raising #UD (libm's fmod) and qsort sorting differently without sysinfo.
        string program = GuestProgram.Build("numeric.c", flags: "-static -O2 -frounding-math", libraries: "-lm");
        var native = GuestProgram.RunNative(program);
        var guest = GuestProgram.RunGuest(program);
        Assert.Equal("", guest.Diagnostics);
        AssertSame(native, guest);
    }

    [Fact]
    public void Cpp_exceptions_rtti_virtual_calls_containers_and_iostreams()
    {
        // Found RDSSP (libgcc's unwinder asks for the shadow-stack pointer) raising #UD instead of running as a NOP.
        Compare("g++", "containers.cpp");
    }

    [Fact]
    public void Rust_std_collections_floating_point_and_a_caught_panic()
    {
        // Found poll missing: Rust's start-up polls the standard descriptors and aborts when it cannot.
        string program = GuestProgram.Build("collections.rs", "rustc", "-O -C target-feature=+crt-static");
        var guest = RunAsNatively(program);
        Assert.Equal(0, guest.ExitStatus);
        Assert.Equal("", guest.Diagnostics);
        Assert.Contains("panic caught: true", guest.StdoutText);
    }

    [Fact]
    public void C_numeric_program_built_by_clang()
    {
        // The same comparison as the GCC build: LLVM picks other instructions for the same source.
        string program = GuestProgram.Build("numeric.c", "clang-14", "-static -O2 -frounding-math", "-lm");
        var guest = RunAsNatively(program);
        Assert.Equal("", guest.Diagnostics);
    }

    [Theory]
    // signals.c ends itself with a SIGUSR1 whose SA_RESETHAND handler has been reset to the default; timers.c by letting
    // SIGALRM take its default action.
    [InlineData("signals.c", 10, "SIGUSR2 pending while blocked: 1")]
    [InlineData("timers.c", 14, "sigsuspend: handler ran 1 time(s), SIGALRM blocked again: 1")]
    public void Signal_handlers_and_timers_run_and_return_as_natively(string source, int endingSignal, string line)
    {
        var guest = RunAsNatively(GuestProgram.Build(source));
        Assert.Equal(128 + endingSignal, guest.ExitStatus);
        Assert.Contains($"terminated by signal {endingSignal}", guest.Diagnostics);
        Assert.Contains(line, guest.StdoutText);
    }

    [Fact]
    public void Static_cpython_runs_a_script_as_natively()
    {
        // Debian's libpython3.11.a (libpython3.11-dev; .ci/run installs it) linked into a static interpreter. -I -B: no
        // environment, no user site, no bytecode files written.
        string program = GuestProgram.Build("python.c", flags: "-static -O2 -I/usr/include/python3.11", libraries: "-lpython3.11 -lexpat -lz -lm");
        var guest = RunAsNatively(program, "-I", "-B", GuestProgram.Source("workload.py"));
        Assert.Equal(0, guest.ExitStatus);
        Assert.Equal("", guest.Diagnostics);
        Assert.Contains("SIGALRM handled in Python: [14]", guest.StdoutText);
    }

    [Fact]
    public void Sqlite_with_write_ahead_logging_on_a_host_file_as_natively()
    {
        // Found fcntl record locks (F_SETLK), fdatasync and fchown missing: SQLite reported a disk I/O error.
        string program = GuestProgram.Build("sqlite.c", libraries: "-lsqlite3 -lm");
        // The program deletes the database first, so both runs start from nothing.
        var guest = RunAsNatively(program, GuestProgram.WriteFile("sqlite.db", ""));
        Assert.Equal(0, guest.ExitStatus);
        Assert.Equal("", guest.Diagnostics);
        Assert.Contains("integrity_check=ok", guest.StdoutText);
    }

    [Theory]
    [InlineData("all", 0)]
    [InlineData("exit", 3)]
    [InlineData("segv", 139)]
    [InlineData("leader", 0)]
    public void Posix_threads_share_one_processor_as_natively(string mode, int status)
    {
        var guest = RunAsNatively(GuestProgram.Build("threads.c", flags: "-static -O2 -pthread", libraries: "-lm"), mode);
        Assert.Equal(status, guest.ExitStatus);
        if (mode == "all")
        {
            Assert.Contains("pthread_kill ran the handler in the target thread: 1", guest.StdoutText);
            Assert.Contains("the handler started at round-to-nearest: 1; the thread's round-upward came back: 1; this thread's mode is its own: 1", guest.StdoutText);
        }
    }

    [Theory]
    [InlineData("threads.c", 0)]
    [InlineData("signals.c", 128 + 10)]
    [InlineData("timers.c", 128 + 14)]
    [InlineData("numeric.c", 0)]
    public void Musl_builds_run_as_natively(string source, int status)
    {
        // musl's own clone, signal trampolines and libm: a second C library over the same system calls.
        var guest = RunAsNatively(GuestProgram.Build(source, "musl-gcc", "-static -O2", "-lm"));
        Assert.Equal(status, guest.ExitStatus);
    }

    [Theory]
    [InlineData("select.c", "after another thread wrote: 1, readable 1")]
    [InlineData("events.c", "eventfd ready: 1 data 1111222233334444")]
    public void Waiting_on_descriptors_as_natively(string source, string line)
    {
        // select/pselect over a pipe; epoll over an eventfd and a socket pair. Another thread ends an indefinite wait.
        var guest = RunAsNatively(GuestProgram.Build(source, flags: "-static -O2 -pthread"));
        Assert.Equal(0, guest.ExitStatus);
        Assert.Equal("", guest.Diagnostics);
        Assert.Contains(line, guest.StdoutText);
    }

    [Fact]
    public void Working_directory_is_the_guests_own()
    {
        // Found chdir, fchdir and symlink missing. The directory is made fresh for each run; the program removes what it makes.
        string program = GuestProgram.Build("directories.c");
        var native = GuestProgram.RunNative(program, Directory.CreateTempSubdirectory("dispatch-native-").FullName);
        string hostDirectory = Directory.GetCurrentDirectory();
        var guest = GuestProgram.RunGuest(program, Directory.CreateTempSubdirectory("dispatch-guest-").FullName);
        AssertSame(native, guest);
        Assert.Equal(0, guest.ExitStatus);
        Assert.Equal("", guest.Diagnostics);
        Assert.Equal(hostDirectory, Directory.GetCurrentDirectory()); // the VMM's own directory did not move
    }

    [Theory]
    [InlineData("stack", "signal frame at 0x")]
    [InlineData("sigreturn", "segmentation fault: execute at 0x0")]
    public void Signal_misuse_ends_the_process_with_sigsegv_as_natively(string mode, string diagnostic)
    {
        var guest = RunAsNatively(GuestProgram.Build("badsignal.c"), mode);
        Assert.Equal(139, guest.ExitStatus);
        Assert.Contains(diagnostic, guest.Diagnostics);
    }

    [Fact]
    public void Glibc_static_pie_runs_relocated()
    {
        // A static-pie is ET_DYN: the loader places it at its own base and the C library relocates itself at start-up.
        string program = GuestProgram.Build("libc_basics.c", flags: "-static-pie -fPIE -O2");
        string[] args = ["pie", GuestProgram.WriteFile("lines-pie.txt", "one\ntwo\nthree\n")];
        var native = GuestProgram.RunNative(program, args);
        var guest = GuestProgram.RunGuest(program, args);
        Assert.Equal("", guest.Diagnostics);
        AssertSame(native, guest);
    }

    /// <summary>Runs <paramref name="program"/> natively and as a guest, asserts the runs are the same, and returns the guest's.</summary>
    private static ProgramRun RunAsNatively(string program, params string[] args)
    {
        var native = GuestProgram.RunNative(program, args);
        var guest = GuestProgram.RunGuest(program, args);
        AssertSame(native, guest);
        return guest;
    }

    /// <summary>Compares a C-library program's stdout, stderr and exit status with its native run, byte for byte.</summary>
    private static void Compare(string compiler, string source, params string[] args)
    {
        string program = GuestProgram.Build(source, compiler);
        var native = GuestProgram.RunNative(program, args);
        var guest = GuestProgram.RunGuest(program, args);
        Assert.Equal("", guest.Diagnostics);
        AssertSame(native, guest);
    }

    [Fact]
    public void Dispatch_run_traces_system_calls_and_prints_statistics()
    {
        string program = GuestProgram.Build("syscalls.c", flags: GuestProgram.FreestandingFlags);
        var output = new StringWriter();
        var error = new StringWriter();
        int status = RunCommand.Execute(new RunCommandOptions(null, 64, Stats: true, null)
        {
            Program = program,
            TraceSyscalls = true,
        }, output, error);
        Assert.Equal(42, status);
        Assert.Contains("argc = 1\n", output.ToString());
        string trace = error.ToString();
        Assert.Contains("write(1, \"argc\", 4) = 4", trace);
        Assert.Contains("brk(0x0) = 0x", trace);
        Assert.Contains("write(1, 0x0, 5) = -1 EFAULT", trace);
        Assert.Contains("exit_group(42) = ?", trace);
        Assert.Contains("Vmcall (18)", trace);
        Assert.Contains("exit_group           (231)", trace);
        Assert.Contains("MIPS", trace);
    }
}
